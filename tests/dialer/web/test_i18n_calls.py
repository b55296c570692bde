"""The call explorer, a call's page, the CDR export, the audit log and the wallboard in
Korean: `<html lang="ko">`, their headings, buttons and columns in Korean, codes said
in words (dispositions, intents, statuses, the audit's actions), and the sentences the
routes build (talk times, speakers, refusals, export summaries) translated too."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.cdr import CDR_DEFINITIONS, record_audit
from campaigns.models import CallAttempt, Campaign, Contact, Turn
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web import i18n
from dialer.web.app import create_app
from dialer.web.routes import calls as calls_route
from dialer.web.routes import cdr as cdr_route

PASSWORD = "a long password"
KO = {"Accept-Language": "ko-KR,ko;q=0.9"}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(application.state.db, "boss", PASSWORD, "admin")
    with application.state.db.session() as s:
        campaign = Campaign(name="봄", script_dir="/x")
        s.add(campaign)
        s.flush()
        contact = Contact(campaign_id=campaign.id, phone="+821011110001",
                          fields={"name": "김민준"})
        s.add(contact)
        s.flush()
        a = CallAttempt(campaign_id=campaign.id, contact_id=contact.id, attempt_no=1,
                        status="completed", created_at=T0, dialed_at=T0,
                        answered_at=T0 + timedelta(seconds=1),
                        ended_at=T0 + timedelta(seconds=47.4), disposition="opt_out",
                        end_node="opt_out_close", handoff=True, handoff_result="connected",
                        agent="jisu", agent_disposition="resolved")
        s.add(a)
        s.flush()
        s.add_all([Turn(attempt_id=a.id, seq=0, speaker="bot", node="greeting",
                        text="안녕하세요", offset_ms=0.0, latency_ms=300.0),
                   Turn(attempt_id=a.id, seq=1, speaker="customer", node="greeting",
                        text="그만 전화하세요", intent="opt_out", confidence=0.97,
                        offset_ms=2100.0, confirmation="yes")])
    record_audit(application.state.db, "boss", "admin", "cdr_export",
                 {"format": "csv", "filters": {"disposition": "busy", "tz": "UTC"},
                  "rows": 3, "masked": False, "complete": False})
    return application


def client(app: Any) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert c.post("/api/login", json={"username": "boss", "password": PASSWORD}).is_success
    return c


def main_of(html: str) -> str:
    return html.split("<main>", 1)[1]


def headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip()
            for h in re.findall(r"<(?:h1|h2|th|button|summary)\b[^>]*>(.*?)</", main_of(html),
                                re.DOTALL)]


def test_the_call_explorer_in_korean(app: Any) -> None:
    page = client(app).get("/calls", headers=KO).text
    assert '<html lang="ko">' in page and "<h1>통화</h1>" in page
    for word in ("전화번호", "이름", "통화 결과", "검색", "통화 1건", "마지막 단계", "통화 시간",
                 "이 통화 내보내기", "수신 거부", "opt out close", "46초", "수신 거부 요청"):
        assert word in page, word
    for english in ("Search", "Disposition", "Last step", "Ended at", "Talk", "Intents",
                    "Export these calls", ">opt_out<", ">opt_out_close<"):
        assert english not in main_of(page), english
    assert client(app).get("/calls", headers={"Accept-Language": "en"}).text.count(
        "Last step") == 1


def test_a_call_in_korean(app: Any) -> None:
    page = client(app).get("/calls/1", headers=KO).text
    assert '<html lang="ko">' in page and "<h1>통화 1 " in page
    for word in ("← 통화 목록", "대화 내용", "로봇", "고객", "화자", "발화 내용", "마지막 단계",
                 "46초", "연결됨", "상담원 처리 결과: 해결됨", "확인됨", "수신 거부 요청"):
        assert word in page, word
    for english in ("Transcript", "Who", "Said", "Robot", "Customer", "Talk time",
                    "Last step", "connected", "resolved", "This call as JSON"):
        assert english not in headings(page) and f">{english}<" not in page, english


def test_the_cdr_page_and_audit_log_in_korean(app: Any) -> None:
    c = client(app)
    cdr = c.get("/cdr", headers=KO).text
    assert '<html lang="ko">' in cdr and "<h1>통화 상세 기록</h1>" in cdr
    for word in ("CSV 내려받기", "XLSX 내려받기", "최근 내보내기", "중단됨", "통화 결과 통화 중",
                 "시간대 UTC", "고객 전화번호, E.164 형식"):
        assert word in cdr, word
    assert not {"Download CSV", "Download XLSX", "Your last exports", "Columns"} & set(
        headings(cdr))
    audit = c.get("/admin/audit", headers=KO).text
    assert '<html lang="ko">' in audit and "<h1>감사 기록</h1>" in audit
    for word in ("1건, 최신순입니다.", "통화 기록 내보내기", "거르기", "작업", "중단됨",
                 '<td title="admin">시스템 관리자</td>'):
        assert word in audit, word
    assert not {"Action", "User", "Filter", "Rows"} & set(headings(audit))
    assert ">cdr_export<" not in audit  # the action in words (the code in its title)


def test_the_wallboard_in_korean(app: Any) -> None:
    page = client(app).get("/wallboard", headers=KO).text
    assert '<html lang="ko">' in page and "<h1>상황판 " in page
    for word in ("현재 통화", "대기 중인 상담원", "포기율", "최근 15분", "통화 대기열에 연결할 수 없어"):
        assert word in page, word
    assert not {"Calls now", "Queue and agents", "Last 15 minutes"} & set(headings(page))
    block = page.split('<script type="application/json" id="i18n">')[1].split("</script>")[0]
    words = json.loads(block)
    assert words["live · {time}"] == "실시간 · {time}"
    assert words["Lost the live feed; reconnecting…"].startswith("실시간 연결이 끊겼습니다")


def test_the_sentences_the_routes_build_are_translated() -> None:
    texts = [*calls_route.SPEAKERS.values(), calls_route.SECONDS, calls_route.MINUTES,
             calls_route.NO_NAME_SEARCH, calls_route.FEW_DIGITS, calls_route.MANY_DIGITS,
             calls_route.LONG_NAME, calls_route.BAD_DATE, calls_route.BAD_CAMPAIGN,
             calls_route.REVERSED, *cdr_route.ACTIONS.values(), *cdr_route.SUMMARY.values(),
             cdr_route.REVERSED, cdr_route.CANNOT, cdr_route.NOT_A_FORMAT,
             cdr_route.BAD_CAMPAIGNS, cdr_route.MANY_DIGITS, *CDR_DEFINITIONS.values()]
    untranslated = [t for t in texts if t != "{start} → {end}"
                    and i18n.translate("ko", t) == t]
    assert untranslated == []
    assert i18n.translate("ko", "{start} → {end}") == "{start} → {end}"  # no words in it
    assert calls_route.talk_words(45.6, "ko") == "46초"
    assert calls_route.talk_words(65.4, "ko") == "1분 05초"
    assert calls_route.talk_words(65.4, "en") == "1 min 05 s"
    assert calls_route.talk_words(None, "en") == "0 s"
    assert calls_route.who_said("bot", "ko") == "로봇"
    assert calls_route.who_said("agent", "en") == "Agent"
    assert cdr_route.summary({"filters": {"disposition": "busy", "phone": "0001"}}, "ko") == \
        "통화 결과 통화 중; 끝자리 0001"
    assert cdr_route.summary({"filters": {}}, "ko") == "모든 통화"
    assert cdr_route.action_words("recording_played", "ko") == "녹음 재생"
    assert cdr_route.action_words("user_created", "en") == "User created"
