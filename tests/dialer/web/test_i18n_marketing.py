"""Marketing's pages in Korean (and still in English): the campaigns list, a campaign's
cockpit with its checklist, confirmations and live figures, the new and edit forms, an
import and its column-mapping step, the dry-runs and the do-not-call lists, each
rendered by the real app on a real database for a Korean browser. The sentences the
server builds for those pages (dialer/web/cockpit.py and the routes) are found in their
source and each has its Korean; codes are shown as words, never raw."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web import i18n
from dialer.web.app import create_app
from dialer.web.cockpit import confirmation
from dialer.web.routes.cockpit import duration_in
from dialer.web.routes.dry_runs import verdict_text
from tests.dialer.web.test_web_campaigns import (
    DEMO,
    PASSWORD,
    login,
    settings_form,
    wait_import,
)

KO = {"Accept-Language": "ko-KR,ko;q=0.9"}
WEB = Path(__file__).resolve().parents[3] / "dialer" / "web"
# The modules whose sentences marketing's pages show, each looked up with `_t(lang, ...)`.
SOURCES = ["cockpit.py", "campaign_forms.py", "import_mapping.py", "routes/cockpit.py",
           "routes/campaign_pages.py", "routes/imports.py", "routes/dry_runs.py",
           "routes/dnc.py"]
# Texts handed to `_t` through a name rather than written in the call.
BY_NAME = ["failed on {lines}", "stopped on {lines}", "nothing checked on {lines}",
           "a dry-run of this campaign is already under way"]
KOREAN_CSV = "전화번호,이름,메모\n010-5000-0001,김민수,VIP\n010-5000-0002,이서연,\n"


def literals(expr: ast.expr) -> list[str]:
    """The texts an argument can be: a literal, or either branch of `a if x else b`."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        return literals(expr.body) + literals(expr.orelse)
    return []


def python_texts() -> list[str]:
    """Every English text the modules look up: the string literals inside their `_t(...)`
    calls' text argument, in the tables of texts the calls take (module-level dicts and
    tuples of strings given to `_t` by name), and BY_NAME."""
    found: list[str] = list(BY_NAME)
    for name in SOURCES:
        tree = ast.parse((WEB / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_t" and len(node.args) >= 2):
                found += literals(node.args[1])
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in ("_SAID", "DNC_DONE", "_UNITS")
                    for t in node.targets) and isinstance(node.value, ast.Dict):
                found += [v.value for v in node.value.values
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return sorted(set(found))


def test_every_sentence_the_server_builds_has_its_korean() -> None:
    texts = python_texts()
    assert len(texts) > 40, texts  # the scan found the calls (not an empty pass; the
    # refusals they raise are test_i18n.py's)
    assert "The calling window is open now ({hours} in {where})." in texts
    assert "Resuming dials {who} between {start} and {end} {where}, up to {most} at a time." \
        in texts and "{number} was already on the list." in texts
    untranslated = [t for t in texts if i18n.translate("ko", t) == t]
    assert not untranslated, untranslated


def test_sentences_in_korean_and_english() -> None:
    c = {"window": "09:00-20:00", "first_day": None, "last_day": "2026-04-30",
         "dry_run": False, "max_concurrent": 3}
    now = {"pending": 4, "in_progress": 1}
    assert confirmation(c, "start", now, ["Asia/Seoul"]) == (
        "Starting dials 5 people between 09:00 and 20:00 their time (Asia/Seoul), "
        "from today to 2026-04-30, up to 3 at a time.")
    assert confirmation(c, "start", now, ["Asia/Seoul"], "ko") == (
        "시작하면 오늘부터 2026-04-30까지 5명에게 고객 현지 시각(Asia/Seoul)으로 "
        "09:00부터 20:00 사이에, 한 번에 최대 3통씩 전화를 겁니다.")
    assert "아직 연락하지 못한 5명에게는" in confirmation(c, "stop", now, [], "ko")
    assert [duration_in(s, "ko") for s in (5400, 90, 90000)] == [
        "1시간 30분", "1분 30초", "1일 1시간"]
    assert duration_in(5400) == "1 h 30 min"
    lines = {"lines": ["a", "b", "c"], "waiting": [], "calling": [], "passed": ["a"],
             "failed": ["b"], "stopped": ["c"], "unchecked": [], "done": 3}
    assert verdict_text(lines) == "Passed on 1 of 3 lines; failed on b; stopped on c."
    assert verdict_text(lines, "ko") == ("회선 3개 중 1개 통과; 실패한 회선: b; "
                                         "중지된 회선: c.")


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(application.state.db, "mina", PASSWORD, "marketing")
    return application


def korean(page: str, *labels: str, english: tuple[str, ...] = ()) -> None:
    """The page is in Korean: its <html lang>, the labels given, no English one left."""
    assert '<html lang="ko">' in page
    missing = [w for w in labels if w not in page]
    assert not missing, (missing, page[page.find("<main>"):][:3000])
    left = [w for w in english if w in page]
    assert not left, (left, page[page.find("<main>"):][:3000])


def new_campaign(c: Any, csrf: str, body: bytes, **over: str) -> tuple[int, str]:
    r = c.post("/campaigns/new", data=settings_form(csrf, **over),
               files={"csv_file": ("고객.csv", body, "text/csv")})
    assert r.status_code == 303, r.text[-1500:]
    location = r.headers["location"]
    wait_import(c, location)
    return int(location.split("/")[2]), location


def test_the_campaign_pages_in_korean(app: Any) -> None:
    c, csrf = login(app)
    c.headers.update(KO)
    korean(c.get("/campaigns").text, "<h1>캠페인</h1>", ">새 캠페인</a>", "아직 캠페인이 없습니다",
           english=("New campaign", "No campaigns yet"))
    form = c.get("/campaigns/new").text
    korean(form, "<h1>새 캠페인</h1>", "워커 기본 음성", "워커 기본 트렁크", "결과별 재시도 간격 (분):",
           ">만들고 가져오기</button>", "통화 중 <input",  # the outcome in words: busy
           english=("DIALER_TTS_VOICE", "DIALER_SIP_TRUNK", "Create and import", "How hard",
                    ">busy <", "no_answer <"))
    with (DEMO / "contacts.csv").open("rb") as f:
        cid, location = new_campaign(c, csrf, f.read())
    imported = c.get(location).text
    korean(imported, "<h1>통화 목록 <em>", "캠페인으로 돌아가기", "<strong id=\"import-status\">완료</strong>",
           "가져옴:", "거부된 행 모두 내려받기 (CSV)",
           english=("Back to the campaign", ">done<", "Download every rejected row"))
    page = c.get(f"/campaigns/{cid}").text
    korean(page, '<span class="status draft" id="status">초안</span>', "<h2>시작하기 전에</h2>",
           "<h2>진행 상황</h2>", "연락처 6건 중 0건 완료, 0건 진행 중, 6건 대기 중입니다.",
           "<h2>고객이 듣는 말</h2>", "목록 1개에서 연락처 6건을 가져왔습니다.",
           "아직 모의 실행을 하지 않았습니다.", ">시작…</button>", ">완전히 중지…</button>",
           "통화 중: 5분 후",  # the retry delay typed in minutes, in words
           english=("Before starting", "Progress", "What callees hear", "Start…",
                    "Stop for good…", "Settings</h2>", "No dry-run yet", ">draft<", "busy:"))
    asked = c.post(f"/campaigns/{cid}/status", data={"action": "start", "csrf_token": csrf})
    korean(asked.text, "발신을 시작할까요?", "시작하면 6명에게 고객 현지 시각(Asia/Seoul)으로 09:00부터 20:00",
           ">예, 발신 시작</button>", english=("Start dialing?", "Yes, start dialing"))
    edit = c.get(f"/campaigns/{cid}/edit").text
    korean(edit, ">저장</button>", "<h1>수정 <a", 'name="retry_busy" min="0" step="any" size="6" '
           'value="5"', english=("Retry after (seconds)", ">Save<"))
    dry = c.get(f"/campaigns/{cid}/dry-runs").text
    korean(dry, "모의 실행하기", "아직 모의 실행이 없습니다.", english=("Run a dry-run", "No dry-run yet"))
    # English stays the default: the same pages for an English browser.
    c.headers.update({"Accept-Language": "en-US"})
    page = c.get(f"/campaigns/{cid}").text
    assert '<html lang="en">' in page and "<h2>Before starting</h2>" in page
    assert "6 contacts imported from 1 list." in page and "Busy: after 5 min" in page


def test_the_retry_delays_are_typed_in_minutes_and_kept_in_seconds(app: Any) -> None:
    c, csrf = login(app)
    with (DEMO / "contacts.csv").open("rb") as f:
        cid, _ = new_campaign(c, csrf, f.read(), retry_busy="1.5", retry_no_answer="90")
    made = c.get(f"/api/campaigns/{cid}").json()
    assert made["retry_delays"] == {"busy": 90, "no_answer": 5400}
    edit = c.get(f"/campaigns/{cid}/edit").text
    assert 'name="retry_busy" min="0" step="any" size="6" value="1.5"' in edit
    assert 'name="retry_no_answer" min="0" step="any" size="6" value="90"' in edit
    for bad in ("nan", "-1", "1e999", "9" * 30, "abc", "0x10"):
        r = c.post(f"/campaigns/{cid}/edit", data=settings_form(csrf, retry_busy=bad),
                   headers=KO)
        assert r.status_code == 400, bad
        assert "“통화 중” 재시도 간격:" in r.text and "분 단위 숫자여야 합니다" in r.text, bad
    assert c.get(f"/api/campaigns/{cid}").json()["retry_delays"] == made["retry_delays"]


def test_the_mapping_step_and_the_live_figures_in_korean(app: Any) -> None:
    c, csrf = login(app)
    cid, location = new_campaign(c, csrf, KOREAN_CSV.encode())
    page = c.get(location, headers=KO).text
    korean(page, "<h2>전화번호가 들어 있는 열은 무엇인가요?</h2>", ">이 열 지정으로 가져오기</button>",
           "<strong id=\"import-status\">열 지정 필요</strong>", "연락처의 name",
           "<p class=\"error\" role=\"alert\">스크립트의 첫 안내 멘트에 연락처의 name 항목이 쓰이는데",
           english=("Which column holds", "Import with this mapping", ">needs_mapping<",
                    "uses the contact"))
    preview = c.get(f"{location}/preview", params={"field.name": ""}, headers=KO).json()
    assert preview["missing"] == [("스크립트의 첫 안내 멘트에 연락처의 name 항목이 쓰이는데, 이 항목에 "
                                  "지정된 목록의 열이 없습니다. 이 정보가 들어 있는 열을 고르세요")]
    bad = c.get(f"{location}/preview", params={"field.name": "<b>주소"}, headers=KO)
    assert bad.status_code == 400 and "목록에 있는 열이 아닙니다" in bad.text
    assert "<b>" not in bad.text
    live = c.get(f"/api/campaigns/{cid}/live", headers=KO).json()
    assert live["status"] == "draft" and live["outcomes"] == []


def test_the_do_not_call_page_in_korean(app: Any) -> None:
    c, csrf = login(app)
    c.headers.update(KO)
    added = c.post("/dnc", data={"phone": "010-8300-0001", "reason": "요청", "csrf_token": csrf})
    assert added.status_code == 303
    page = c.get(added.headers["location"]).text
    korean(page, "<h1>수신 거부 목록</h1>", "+821083000001을(를) 추가했습니다.", ">추가</button>",
           "<td>모든 캠페인</td><td>직접 추가</td>",
           english=("Do-not-call lists", ">Add<", ">global<", ">manual<", "added"))
    forged = c.get("/dnc", params={"done": "added", "number": "<script>"}).text
    assert "이 번호을(를) 추가했습니다." in forged and "<script>" not in forged.split("<main>")[1]
    wrong = c.post("/dnc", data={"phone": "010-8300-0002", "campaign": "x{0}",
                                 "csrf_token": csrf})
    assert wrong.status_code == 400
    assert re.search(r"캠페인 &#39;x\{0\}&#39;: 캠페인 번호를 적거나", wrong.text), wrong.text[-2000:]


def test_a_day_in_the_form_is_checked_in_the_pages_words(app: Any) -> None:
    c, csrf = login(app)
    with (DEMO / "contacts.csv").open("rb") as f:
        r = c.post("/campaigns/new", data=settings_form(csrf, first_day="2026-02-30"),
                   files={"csv_file": ("a.csv", f.read(), "text/csv")}, headers=KO)
    assert r.status_code == 400 and "첫날: &#39;2026-02-30&#39;은(는) 날짜가 아닙니다" in r.text
    assert "--first-day" not in r.text


def test_a_dry_run_report_in_korean() -> None:
    """The dry-runs page's template with a two-line dry-run, a failed persona and a
    transcript, rendered as the app renders it for a Korean user."""
    from campaigns.refusals import Code, Phrase
    from dialer.web.pages import Pages, page_words

    turns = [{"speaker": "bot", "text": "안녕하세요", "said": None, "intent": None,
              "confidence": None, "flags": []},
             {"speaker": "customer", "text": "우리 강아지", "said": "우리 강아지가 아파요",
              "intent": "nlu_fallback", "confidence": 0.31,
              "flags": [Phrase("fell back: not understood"), Phrase("reprompted")]}]
    # the expectation's verdict as the rehearsal builds it (dialer/sandbox/personas.py),
    # and the robot's reason as a call stores it
    why = Phrase("ended {disposition}, expected {expected}",
                 disposition=Code("opt_out", "disposition"),
                 expected=Code("interested", "disposition"))
    call = {"persona": "off topic", "disposition": "opt_out", "flags": 1, "passed": False,
            "reason": "customer intent opt_out", "why": why, "turns": turns}
    runs = [{"rehearsal": {"id": i, "name": f"run {i}", "status": "finished"}, "line": line,
             "result": result, "waiting": False, "under_way": False, "error": None,
             "progress": {"done": 2, "total": 2}, "flagged_turns": 1,
             "dispositions": {"opt_out": 1, "interested": 1}, "calls": [call],
             "expectations": {"checked": 2, "passed": 1, "ok": False, "unchecked": 0}}
            for i, line, result in ((7, "pcmu", "failed"), (8, "g722", "failed"))]
    lines = {"lines": ["pcmu", "g722"], "waiting": [], "calling": [], "passed": [],
             "failed": ["pcmu", "g722"], "stopped": [], "unchecked": [], "done": 2, "ok": False}
    words = page_words("ko")
    page = Pages().templates.get_template("dryruns.html").render(
        user={"role": "marketing", "csrf_token": "t"}, nav=[], zone=None, running=False,
        c={"id": 1, "name": "가을"}, error="", i18n_json="{}", request=None,
        dry_runs=[{"id": 7, "under_way": False, "rehearsals": runs,
                   "verdict": {**lines, "text": verdict_text(lines, "ko")}}], **words)
    korean(page, "<h2>회선 2개 모의 실행</h2>", "회선 2개 중 0개 통과; 실패한 회선: pcmu, g722.",
           "<td>2개 중 1개</td>", "실제 발화: 우리 강아지가 아파요", "실패: 페르소나 2명 중 1명만",
           "<b>off topic</b> — 수신 거부", "이해하지 못함 0.31", "<td>고객</td>", "✗ 실패",
           "결과: 수신 거부 1, 관심 있음 1", "회선 2개 중 1번째: pcmu", "(고객: 수신 거부 요청)",
           i18n.said("ko", why), i18n.translate("ko", "fell back: not understood") + "; "
           + i18n.translate("ko", "reprompted"),
           english=("Failed:", "said:", "Customer", "opt_out", "nlu_fallback", "Dry-run on",
                    "ended", "expected", "fell back", "reprompted", "customer intent"))


def test_no_placeholder_is_named_like_translates_own_arguments() -> None:
    """`_("...", text=...)` would break the page: translate() takes `language` and `text`."""
    table = dict(i18n.catalogue_files("ko"))[WEB / "locale" / "ko" / "campaigns.json"]
    names = {p.split("}")[0] for english in table for p in english.split("{")[1:]}
    assert names and not names & {"text", "language", "values"}, names
