"""The analysts' API on a made-up history of 300 calls (campaigns/synthetic.py) in a real
database, with a real Redis for the wallboard's ACD: the dashboard's numbers are the
analytics' own, the call explorer's filters and masking, recordings only for the roles
that review them, and the wallboard's counts of a queue and its agents."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from campaigns import analytics
from campaigns.cdr import audit_entries
from campaigns.models import CallAttempt, Contact, Turn
from campaigns.settings import CampaignSettings
from campaigns.synthetic import generate
from campaigns.users import create_user
from dialer.handoff.acd import Acd
from dialer.web import i18n
from dialer.web.app import create_app
from dialer.web.routes.dashboards import report_words
from dialer.web.words import disposition_colour
from tests.support.procs import redis_server

PASSWORD = "a long password"
USERS = {"boss": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor"}
CALLS = 300
KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("dash-web")
    (work / "data").mkdir()
    url = f"sqlite:///{work / 'data' / 'dialer.db'}"
    ids, _ = generate(url, CALLS)
    with redis_server(work / "redis") as redis_url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", redis_url)
        app = create_app(CampaignSettings(data_dir=work / "data"))
        for name, role in USERS.items():
            create_user(app.state.db, name, PASSWORD, role)
        yield {"app": app, "db": app.state.db, "ids": ids, "work": work,
               "acd": Acd.from_url(redis_url)}


def login(env: dict[str, Any], user: str) -> TestClient:
    c = TestClient(env["app"], follow_redirects=False)
    assert c.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return c


def test_the_dashboard_is_the_analytics_of_the_filtered_calls(env: dict[str, Any]) -> None:
    c, db, (a, b) = login(env, "ana"), env["db"], env["ids"]
    everything = c.get("/api/dashboard").json()
    assert everything["metrics"]["attempts"] == CALLS
    assert everything["campaign"]["name"] == "All campaigns"
    assert set(everything["definitions"]) >= set(analytics.DEFINITIONS)

    got = c.get("/api/dashboard", params={"campaign": a, "compare": b,
                                          "tz": "Asia/Seoul"}).json()
    mine = analytics.dashboard(*analytics.load(db, [a]), tz="Asia/Seoul")
    theirs = analytics.load(db, [b])
    for key in ("metrics", "funnel", "over_time", "heatmap", "intents", "drop_off",
                "latency"):
        assert got[key] == mine[key], key
    assert got["compare"]["metrics"] == analytics.metrics(*theirs)
    assert got["compare"]["funnel"] == analytics.funnel(*theirs)
    assert got["metrics"]["attempts"] + got["compare"]["metrics"]["attempts"] == CALLS

    # local days: the made-up calls are dialed 09:00-21:00 in Seoul, so a Seoul day
    # holds whole days of calls
    with db.session() as s:
        first = s.scalar(select(CallAttempt.created_at).order_by(CallAttempt.created_at))
    assert first is not None
    day = first.astimezone(analytics.pd.Timestamp(0, tz="Asia/Seoul").tzinfo).date()
    one = c.get("/api/dashboard", params={"start": day, "end": day,
                                          "tz": "Asia/Seoul"}).json()
    labels = one["over_time"]["labels"]
    assert one["over_time"]["bucket"] == "hour" and labels[0].startswith(str(day))
    assert 0 < one["metrics"]["attempts"] < CALLS

    interested = c.get("/api/dashboard", params={"disposition": "interested"}).json()
    assert interested["funnel"][-1]["count"] == interested["metrics"]["attempts"] > 0

    assert c.get("/api/dashboard", params={"campaign": 999}).status_code == 404
    bad = c.get("/api/dashboard", params={"disposition": "happy"})
    assert bad.status_code == 400 and "interested" in bad.json()["detail"]
    assert c.get("/api/dashboard", params={"tz": "Nowhere/Land"}).status_code == 400
    page = c.get("/dashboard")
    assert page.status_code == 200 and "/static/vendor/chart.umd.min.js" in page.text
    assert analytics.DEFINITIONS["abandon_rate"] in page.text


def test_the_charting_library_is_served_from_our_own_static() -> None:
    js = Path(__file__).resolve().parents[3] / "dialer/web/static/vendor/chart.umd.min.js"
    assert js.is_file(), "make venv fetches it (the Makefile's CHARTJS target)"
    assert "Chart" in js.read_text(encoding="utf-8")[:5000]


def test_the_call_explorer_masks_numbers_for_analysts(env: dict[str, Any]) -> None:
    ana, mina = login(env, "ana"), login(env, "mina")
    found = ana.get("/api/calls", params={"phone": "0042"}).json()
    assert found["total"] == 1
    (call,) = found["calls"]
    assert call["phone"] == "•••••••••0042" and call["attempt_id"] == 42
    assert mina.get("/api/calls", params={"phone": "0042"}).json()["calls"][0][
        "phone"] == "+821000000042"
    # an analyst cannot find a whole number digit by digit
    assert ana.get("/api/calls", params={"phone": "00000042"}).status_code == 400
    assert mina.get("/api/calls", params={"phone": "010-0000-0042"}).json()["total"] == 1
    assert ana.get("/api/calls", params={"phone": "42"}).status_code == 400
    detail = ana.get("/api/calls/42").json()
    assert detail["phone"] == "•••••••••0042" and detail["attempt_id"] == 42
    html = ana.get("/calls", params={"phone": "0042"}).text
    assert "•••••••••0042" in html and "+821000000042" not in html
    assert "+821000000042" not in ana.get("/calls/42").text
    # the campaign report (JSON) too
    a, _b = env["ids"]
    theirs = ana.get(f"/api/campaigns/{a}/report").json()
    assert all(x["phone"].startswith("•") for x in theirs["contacts"] + theirs["calls"])
    whole = mina.get(f"/api/campaigns/{a}/report").json()
    assert all(x["phone"].startswith("+82") for x in whole["contacts"] + whole["calls"])


def test_the_call_explorer_filters_and_pages(env: dict[str, Any]) -> None:
    c, db = login(env, "boss"), env["db"]
    everything = c.get("/api/calls").json()
    assert everything["total"] == CALLS and everything["pages"] == 6
    assert len(everything["calls"]) == 50
    ids = [x["attempt_id"] for x in everything["calls"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    second = c.get("/api/calls", params={"page": 2}).json()["calls"]
    assert second[0]["attempt_id"] == ids[-1] - 1

    with db.session() as s:
        opted = set(s.scalars(select(CallAttempt.id).where(
            CallAttempt.disposition == "opt_out")))
        asked = set(s.scalars(select(Turn.attempt_id).where(Turn.intent == "ask_price")))
    got = c.get("/api/calls", params={"disposition": "opt_out"}).json()
    assert {x["attempt_id"] for x in got["calls"]} == opted and got["total"] == len(opted)
    got = c.get("/api/calls", params={"intent": "ask_price", "page": 1}).json()
    assert got["total"] == len(asked)
    assert all("ask_price" in x["intents"] for x in got["calls"])
    both = c.get("/api/calls", params={"intent": "ask_price",
                                       "disposition": "interested"}).json()
    assert 0 < both["total"] < len(asked)
    page = c.get("/calls", params={"intent": "ask_price", "disposition": "interested"})
    assert page.status_code == 200 and f"{both['total']} calls" in page.text
    assert c.get("/calls", params={"start": "yesterday"}).status_code == 200  # says why
    assert "bad date" in c.get("/calls", params={"start": "yesterday"}).text


def test_recordings_only_for_the_roles_that_review_them(env: dict[str, Any]) -> None:
    db, work = env["db"], env["work"]
    path = work / "call-7.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    with db.session() as s:
        s.execute(update(CallAttempt).where(CallAttempt.id == 7)
                  .values(recording_path=str(path)))
        s.commit()
    for user in ("ana", "sup", "boss"):
        c = login(env, user)
        r = c.get("/api/calls/7/recording")
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", user
        assert r.content == path.read_bytes()
        assert c.get("/api/calls/7").json()["recording"] == "/api/calls/7/recording"
        assert 'id="recording"' in c.get("/calls/7").text
    mina = login(env, "mina")
    assert mina.get("/api/calls/7/recording").status_code == 403
    mine = mina.get("/api/calls/7").json()
    assert mine["recording"] is None and mine["recording_on_file"] is True
    assert 'id="no-recording"' in mina.get("/calls/7").text
    assert login(env, "ana").get("/api/calls/8/recording").status_code == 404
    # every recording played is audited, by whom; refusals and misses are not plays
    played, _ = audit_entries(db, action="recording_played")
    assert sorted((e["username"], e["detail"]["attempt_id"]) for e in played) == [
        ("ana", 7), ("boss", 7), ("sup", 7)]


def test_the_wallboard_counts_calls_queues_and_agents(env: dict[str, Any]) -> None:
    c, acd, db = login(env, "sup"), env["acd"], env["db"]
    with db.session() as s:  # two calls live right now: one dialing, one answered
        s.execute(update(CallAttempt).where(CallAttempt.id.in_([11, 12]))
                  .values(status="dialing"))
        s.execute(update(CallAttempt).where(CallAttempt.id == 12).values(status="answered"))
        phone = s.scalar(select(Contact.phone).where(Contact.id == 12))
        s.commit()
    acd.login("jisu", name="Jisu")
    acd.ready("jisu")
    acd.login("min", name="Min")
    acd.enqueue("call-a", "sales", info={"phone": phone})
    try:
        board = c.get("/api/wallboard").json()
        assert board["acd"] is True
        assert board["calls"]["dialing"] == 1
        # the answered call is counted once: waiting for an agent, not with the robot
        assert board["calls"]["waiting_for_agent"] == 1 and board["calls"]["with_robot"] == 0
        assert board["queue_length"] == 1 and board["queues"][0]["queue"] == "sales"
        assert board["longest_wait_s"] >= 0
        assert board["agents"] == {"ready": 1, "not_ready": 1}
        # the made-up history is weeks old: nothing in the last 15 minutes
        assert board["last_15_min"]["attempts"] == 0
        assert board["last_15_min"]["abandon_rate"] is None
        page = c.get("/wallboard").text
        assert 'data-board="queue_length">1<' in page
    finally:
        acd.abandon("call-a")
        acd.logout("jisu")
        acd.logout("min")
        with db.session() as s:
            s.execute(update(CallAttempt).where(CallAttempt.id.in_([11, 12]))
                      .values(status="completed"))
            s.commit()
    assert login(env, "mina").get("/api/wallboard").status_code == 403


class Shown(HTMLParser):
    """The text a page shows: neither its scripts' words nor its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_script = self.in_script or tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self.in_script = self.in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if not self.in_script and data.strip():
            self.parts.append(data.strip())


def shown(html: str) -> str:
    parser = Shown()
    parser.feed(html)
    return "\n".join(parser.parts)


def test_the_dashboard_page_in_korean(env: dict[str, Any]) -> None:
    c = login(env, "ana")
    page = c.get("/dashboard", headers=KOREAN).text
    assert '<html lang="ko">' in page and "<h1>캠페인 대시보드</h1>" in page
    text = shown(page)
    for korean in ("캠페인", "전체 캠페인", "비교 대상", "통화 결과", "보기", "연결률",
                   "평균 통화 시간", "단계별 현황", "기간별 통화 결과", "데이터 없음",
                   "차이 (B − A)", "각 수치의 뜻", "관심 있음", "수신 거부 건수",
                   i18n.translate("ko", analytics.DEFINITIONS["avg_handle_s"])):
        assert korean in text, korean
    for english in ("Campaign dashboard", "Compare with", "Show", "Connect rate",
                    "Average call length", "Funnel", "Dispositions over time", "No data",
                    "What each number means", "Not interested", "Loading…",
                    analytics.DEFINITIONS["avg_handle_s"]):
        assert english not in text, english
    for code in ("avg_handle_s", "not_interested", "over_time", "latency_p95_ms"):
        assert code not in text, code  # codes only in attributes, for the script
    english = c.get("/dashboard", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en">' in english
    text = shown(english)
    assert "Average call length" in text and "Not interested" in text
    assert "Mean seconds from answer to hang-up" in text and "No data" in text


def test_the_report_says_its_codes_in_words_with_fixed_colours(env: dict[str, Any]) -> None:
    c, (a, b) = login(env, "ana"), env["ids"]
    en = c.get("/api/dashboard", params={"campaign": a}).json()
    ko = c.get("/api/dashboard", params={"campaign": a}, headers=KOREAN).json()
    for key in ("metrics", "funnel", "over_time", "heatmap", "intents", "drop_off",
                "latency", "filters"):
        assert en[key] == ko[key], key  # the codes stay codes: the explorer's filters
    words, english = ko["words"], en["words"]
    assert words["dispositions"]["interested"] == {"word": "관심 있음", "colour": "#067647"}
    assert english["dispositions"]["not_interested"] == {
        "word": "Not interested", "colour": disposition_colour("not_interested")}
    assert set(ko["over_time"]["series"]) <= set(words["dispositions"])
    assert {x["intent"] for x in ko["intents"]} == set(words["intents"])
    assert words["intents"]["ask_price"] == "가격 문의"
    assert english["intents"]["ask_price"] == "Asked the price"
    assert words["stages"] == {"dialed": "발신", "answered": "응답", "human": "사람 연결",
                               "engaged": "대화 참여", "converted": "성공"}
    assert words["metrics"]["avg_handle_s"] == {
        "label": "평균 통화 시간", "unit": "s",
        "hint": i18n.translate("ko", analytics.DEFINITIONS["avg_handle_s"])}
    assert english["metrics"]["connect_rate"] == {
        "label": "Connect rate", "unit": "%", "hint": analytics.DEFINITIONS["connect_rate"]}
    assert words["weekdays"]["Sat"] == "토" and words["success"] == ["interested"]
    assert c.get("/api/dashboard", headers=KOREAN).json()["campaign"]["name"] == "전체 캠페인"
    # a filter changes what is counted, never a disposition's colour
    only = c.get("/api/dashboard", params={"campaign": b, "disposition": "not_interested"}
                 ).json()
    assert list(only["over_time"]["series"]) == ["not_interested"]
    assert only["words"]["dispositions"]["not_interested"] == english["dispositions"][
        "not_interested"]
    # a broken Accept-Language is English, not an error
    odd = c.get("/api/dashboard", headers={"Accept-Language": "ko;q=abc," + "x" * 5000})
    assert odd.status_code == 200 and odd.json()["words"]["stages"]["dialed"] == "Dialed"


def test_calls_still_in_progress_and_calls_with_no_node_have_words_too() -> None:
    body: dict[str, Any] = {
        "over_time": {"series": {"in progress": [1], "interested": [2]}},
        "drop_off": [{"node": "(none)", "count": 1, "dispositions": {"in progress": 1}}],
        "intents": [{"intent": "(none)", "count": 1}, {"intent": "ask_delivery", "count": 1}]}
    ko, en = report_words(body, "ko"), report_words(body, "en")
    assert ko["dispositions"]["in progress"]["word"] == "진행 중"
    assert en["dispositions"]["in progress"]["word"] == "In progress"
    assert ko["intents"] == {"(none)": "(없음)", "ask_delivery": "Ask delivery"}
    assert ko["nodes"] == {"(none)": "(없음)"}
    assert en["dispositions"]["in progress"]["colour"].startswith("#")


def test_every_text_the_dashboard_builds_in_python_has_its_korean() -> None:
    """The metrics' names and definitions, the funnel's stages and the weekdays are
    English in campaigns/analytics.py: dialer/web/locale/ko/dashboard.json has them."""
    texts = [*analytics.LABELS.values(), *analytics.DEFINITIONS.values(),
             *analytics.CHART_DEFINITIONS.values(), *analytics.STAGES.values(),
             *analytics.WEEKDAYS, "(none)", "In progress", "All campaigns"]
    assert [t for t in texts if i18n.translate("ko", t) == t] == []


def test_the_wallboards_alarms_and_thresholds() -> None:
    from dialer.web.routes.wallboard import with_alarms

    def board(**over: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"queue_length": 0, "longest_wait_s": 0.0,
                                "agents": {"ready": 1},
                                "last_15_min": {"abandon_rate": None}}
        return with_alarms({**base, **over})

    quiet = board()
    assert (quiet["levels"], quiet["alarms"]) == ({}, [])
    nobody = board(queue_length=2, agents={"not_ready": 3}, longest_wait_s=45.0)
    assert nobody["alarms"] == ["nobody_ready"]
    assert nobody["levels"] == {"queue_length": "alarm", "agents.ready": "alarm",
                                "longest_wait_s": "warn"}
    late = board(queue_length=1, longest_wait_s=61.0,
                 last_15_min={"abandon_rate": 0.031})
    assert late["alarms"] == ["long_wait", "abandon_rate"]
    assert late["levels"]["last_15_min.abandon_rate"] == "alarm"
    unknown = board(queue_length=None, longest_wait_s=None, agents=None)
    assert (unknown["levels"], unknown["alarms"]) == ({}, [])  # not known is not an alarm
