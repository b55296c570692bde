"""The general pages in Korean for a Korean browser (and still English for others): the
header, home, login, error, users, trunks, settings, API and supervisor pages, the
sentences the routes hand the pages (done messages, the login refusal, the no-such-page
errors) and the words the supervisor's floor script shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from campaigns.users import REFUSED, create_user
from dialer.handoff.acd import NOT_READY_REASONS, STATES
from dialer.web import i18n
from dialer.web.app import create_app
from dialer.web.routes.agents import MONITOR_MODES
from dialer.web.routes.trunks import SAVED
from dialer.web.routes.users import USERS_DONE

PASSWORD = "a long password"
KO = {"Accept-Language": "ko-KR,ko;q=0.9"}
STATIC = Path(i18n.__file__).parent / "static"
# Texts the pages get from Python (not literal in a template): each must have its Korean.
FROM_PYTHON = [*USERS_DONE.values(), *SAVED.values(), "Saved.", REFUSED,
               ("There is no page at this address. Check the link, or start again from the "
                "start page."),
               ("This address does not take this kind of request. Open it from a link or a "
                "form of the app instead.")]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(application.state.db, "root", PASSWORD, "admin", "sip:root@127.0.0.1:5998")
    return application


def logged_in(app: Any, user: str = "root") -> TestClient:
    c = TestClient(app, follow_redirects=False)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.is_success, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def main_of(page: str) -> str:
    """The page's own part (the header's menu aside), tags removed."""
    body = page.split("<main>", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


def heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, re.DOTALL)
    assert found, page[:500]
    return found[1].strip()


def test_the_sentences_from_python_have_their_korean() -> None:
    for text in FROM_PYTHON:
        assert i18n.translate("ko", text) != text, text
        assert i18n.translate("en", text) == text
    assert i18n.translate("ko", "User created.") == "사용자를 만들었습니다."


def test_the_header_and_home_page_in_korean(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/", headers=KO).text
    assert '<html lang="ko">' in page and "로그아웃" in page and ">다이얼러</a>" in page
    assert heading(page) == "root님, 환영합니다"
    assert "시스템 관리자(으)로 로그인했습니다." in page
    assert 'title="모든 페이지의 시각은 이 시간대 기준입니다. 눌러서 바꾸세요"' in page
    assert '<small class="role">시스템 관리자</small>' in page
    for english in ("Welcome", "Log out", "You are logged in", "Times on every page"):
        assert english not in page, english
    en = c.get("/", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en">' in en and "<h1>Welcome, root</h1>" in en
    assert "You are logged in as Administrator. What you can open:" in en


def test_the_login_page_and_its_refusal_in_korean(app: Any) -> None:
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "로그인"
    assert "사용자 이름" in page and "비밀번호" in page and ">로그인</button>" in page
    assert "Log in" not in page and "User name" not in page and "Password" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    refused = c.post("/login", headers=KO, data={
        "csrf_token": token[1], "username": "root", "password": "not the password"})
    assert refused.status_code == 401
    assert "사용자 이름이나 비밀번호가 틀렸거나 계정이 잠겨 있습니다." in refused.text
    assert REFUSED not in refused.text


def test_the_error_pages_in_korean(app: Any) -> None:
    c = logged_in(app)
    gone = c.get("/no/such/page", headers=KO)
    assert gone.status_code == 404 and heading(gone.text) == "찾을 수 없음"
    assert "이 주소에는 페이지가 없습니다." in gone.text and "시작 페이지로 돌아가기" in gone.text
    assert "There is no page" not in gone.text and "Back to the start page" not in gone.text
    wrong = c.delete("/admin/users", headers=KO)
    assert wrong.status_code == 405 and heading(wrong.text) == "잘못된 요청 방식"
    assert "이 주소는 이런 방식의 요청을 받지 않습니다." in wrong.text
    api = c.get("/api/no/such", headers=KO)  # the API keeps speaking English
    assert api.status_code == 404 and "no API operation" in api.json()["detail"]
    nobody = TestClient(app).get("/no/such/page", headers=KO)
    assert nobody.status_code == 404 and "이 주소에는 페이지가 없습니다." in nobody.text
    en = c.get("/no/such/page").text
    assert "<h1>Not found</h1>" in en and "There is no page at this address." in en


def test_the_users_page_in_korean(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/admin/users?done=created", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "사용자"
    assert "사용자를 만들었습니다." in page and "새 사용자" in page and ">만들기</button>" in page
    assert ">저장</button>" in page and "역할을 고르세요" in page and "마지막 로그인" in page
    assert '<option value="analyst">분석가</option>' in page  # the role's code stays the value
    text = main_of(page)
    for english in ("New user", "Create", "Save", "User created", "choose a role", "Roles:",
                    "Last login", "analyst", "Phone / skills"):
        assert english not in text, english


def test_the_trunks_page_in_korean(app: Any) -> None:
    c = logged_in(app)
    made = c.put("/api/trunks/acme", json={
        "host": "sip.acme.example", "caller_ids": ["+8215880000"], "username": "u1",
        "realm": "acme", "password": "s3cret-s3cret"})
    assert made.status_code == 200, made.text
    page = c.get("/admin/trunks?done=saved", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "트렁크"
    assert "트렁크를 저장했습니다." in page and "트렁크 추가 또는 변경" in page
    assert "u1 @ 영역 acme, 비밀번호 있음" in page and ">삭제</button>" in page
    text = main_of(page)
    for english in ("Add or change", "Remove", "Trunk saved", "Caller IDs", "password set",
                    "DIALER_SIP_TRUNK"):
        assert english not in text, english


def test_the_settings_page_in_korean(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/account?done=1", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "내 설정"
    assert "저장했습니다." in page and "시간대와 언어" in page and "화면 언어" in page
    assert re.search(r'모든 페이지는 <b id="current-zone">Asia/Seoul \(KST\)</b>\(이 다이얼러의 '
                     r"기본값\) 기준 24시간제로", page), page
    text = main_of(page)
    for english in ("Your settings", "Time zone and language", "Every page", "Saved",
                    "Your browser's", "Default:"):
        assert english not in text, english


def test_a_zone_name_cannot_put_markup_on_the_settings_page(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/account", headers={"Accept-Language": "en"}).text
    assert re.search(r'on a 24-hour clock in <b id="current-zone">Asia/Seoul \(KST\)</b> '
                     r"\(the default of this dialer\)\.", page), page
    assert "&lt;b" not in page  # the bold zone is real markup, escaped text around it


def test_the_api_page_in_korean(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/api/docs", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "JSON API"
    assert "<code>POST /api/login</code>" in page and "<code>X-CSRF-Token</code> 헤더로" in page
    assert '<a href="/api/openapi.json">/api/openapi.json</a>' in page
    assert "<th>메서드</th>" in page and "<th>하는 일</th>" in page
    for english in ("Log in with", "The full description", "<th>Method</th>",
                    "What it does"):
        assert english not in page, english


def test_the_supervisor_page_and_its_script_in_korean(app: Any) -> None:
    c = logged_in(app)
    page = c.get("/supervisor", headers=KO).text
    assert '<html lang="ko">' in page and heading(page) == "관리자"
    assert "진행 중인 통화" in page and "로그인한 상담원이 없습니다." in page
    assert "<th>엿듣기</th>" in page and "내 전화:" in page
    text = main_of(page)
    for english in ("Live calls", "Agents", "Listen in", "No agent is logged in", "Your phone"):
        assert english not in text, english
    block = page.split('<script type="application/json" id="i18n">')[1].split("</script>")[0]
    words = json.loads(block)
    assert words["A caller is waiting and no agent is ready."] == (
        "기다리는 고객이 있는데 대기 중인 상담원이 없습니다.")
    assert words["{n} callers are waiting and no agent is ready."].startswith("고객 {n}명")
    script = (STATIC / "supervisor.js").read_text(encoding="utf-8")
    # Every code the floor shows is named in the script, each in a literal T("...").
    for code in (*STATES, *NOT_READY_REASONS, *MONITOR_MODES, "waiting", "offered",
                 "connected"):
        shown = code if code in NOT_READY_REASONS else code.replace("_", " ")
        assert f'T("{shown}")' in script, code
        assert words[shown] != shown, code
