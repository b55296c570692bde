"""The interface in Korean or English: every text the templates and scripts translate has
its Korean in the one catalogue (dialer/web/locale/ko/), the page's `lang` follows the
user's language, and the browser's languages are read safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from campaigns.attempts import AGENT_OUTCOMES
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.handoff.acd import NOT_READY_REASONS, STATES
from dialer.web import i18n
from dialer.web.app import create_app
from dialer.web.pages import NAV

PASSWORD = "a long password"


def texts_the_app_translates() -> dict[str, list[str]]:
    """Texts in `_()` and `T()` calls, and the codes the pages pass through them."""
    out = {**i18n.template_texts()}
    for text in i18n.script_texts():
        out.setdefault(text, []).append("static/*.js")
    dynamic = [label for _, label, _ in NAV] + list(NOT_READY_REASONS) + [
        s.replace("_", " ") for s in STATES] + ["unreachable", "waiting"] + [
        o.replace("_", " ").capitalize() for o in AGENT_OUTCOMES]
    for text in dynamic:
        out.setdefault(text, []).append("(codes)")
    return out


def test_every_text_has_its_korean() -> None:
    korean = i18n.catalogue("ko")
    missing = {t: where for t, where in texts_the_app_translates().items() if t not in korean}
    assert not missing, f"texts with no Korean in dialer/web/locale/ko/: {missing}"
    for english, translated in korean.items():  # placeholders kept, none invented
        assert sorted(part.split("}")[0] for part in english.split("{")[1:]) == sorted(
            part.split("}")[0] for part in translated.split("{")[1:]), english


def test_no_two_files_of_the_catalogue_disagree() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path, table in i18n.catalogue_files("ko"):
        for english, korean in table.items():
            if english in seen:
                assert seen[english][1] == korean, (
                    f"{english!r}: {seen[english][0]} says {seen[english][1]!r}, "
                    f"{path.name} says {korean!r}")
            seen[english] = (path.name, korean)


def test_the_language_of_the_browser_or_the_user() -> None:
    assert i18n.from_header("ko-KR,ko;q=0.9,en-US;q=0.8") == "ko"
    assert i18n.from_header("fr-FR, en;q=0.5, ko;q=0.7") == "ko"
    assert i18n.from_header("fr, de") is None
    assert i18n.from_header("ko;q=0, en") == "en"
    assert i18n.from_header("ko;q=abc") is None and i18n.from_header("") is None
    assert i18n.from_header("x" * 100_000 + ",ko") is None  # only the first 500 characters
    assert i18n.choose("en", "ko-KR") == "en" and i18n.choose(None, "ko-KR") == "ko"
    assert i18n.choose("xx", None) == "en"
    assert i18n.translate("ko", "for {time}", time="1:05") == "1:05 동안"
    assert i18n.translate("ko", "no such text") == "no such text"
    assert i18n.translate("en", "for {time}", time="1:05") == "for 1:05"
    assert "</" not in i18n.words_for_scripts("ko", ["</script><script>alert(1)"])


def test_a_page_in_korean_for_a_korean_browser(tmp_path: Path) -> None:
    app: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(app.state.db, "jisu", PASSWORD, "agent", "sip:jisu@127.0.0.1:5999")
    c = TestClient(app)
    assert c.post("/api/login", json={"username": "jisu", "password": PASSWORD}).is_success
    ko = c.get("/agent", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text
    assert '<html lang="ko">' in ko and "<h1>상담원 콘솔</h1>" in ko and "로그아웃" in ko
    block = ko.split('<script type="application/json" id="i18n">')[1].split("</script>")[0]
    assert json.loads(block)["Call offered"] == "통화 배정됨"  # what the scripts say
    en = c.get("/agent", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en">' in en and "<h1>Agent console</h1>" in en


def test_the_users_own_language_wins_over_the_browsers(tmp_path: Path) -> None:
    app: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(app.state.db, "jisu", PASSWORD, "agent", "sip:jisu@127.0.0.1:5999")
    c = TestClient(app)
    h = {"X-CSRF-Token": c.post("/api/login", json={"username": "jisu", "password": PASSWORD}
                                ).json()["csrf_token"]}
    zone = c.patch("/api/me/preferences", json={"time_zone": "Europe/Paris"}, headers=h)
    assert zone.status_code == 200, zone.text
    chose = c.patch("/api/me/preferences", json={"language": "ko"}, headers=h).json()
    assert chose["language"] == "ko" and chose["time_zone"] == "Europe/Paris"  # kept
    page = c.get("/agent", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="ko">' in page and "상담원 콘솔" in page
    bad = c.patch("/api/me/preferences", json={"language": "klingon"}, headers=h)
    assert bad.status_code == 400 and "not a language" in bad.json()["detail"]
    back = c.patch("/api/me/preferences", json={"language": ""}, headers=h).json()
    assert back["language"] is None
    assert '<html lang="en">' in c.get("/agent", headers={"Accept-Language": "en"}).text
    # The settings page's form: both choices at once.
    form = c.get("/account").text
    assert 'name="language"' in form and ">한국어</option>" in form
    saved = c.post("/account", data={"csrf_token": h["X-CSRF-Token"],
                                     "time_zone": "Asia/Seoul", "language": "ko"},
                   follow_redirects=False)
    assert saved.status_code == 303
    assert c.get("/api/me/preferences").json()["language"] == "ko"
