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


def test_every_refusal_and_phrase_has_its_korean() -> None:
    """What the app refuses and flags reaches pages in the reader's language: each text
    is a literal with {placeholders} (no f-string, which no catalogue could hold) and has
    its Korean, with the same placeholders."""
    texts, built = i18n.refusal_texts(Path(__file__).parents[3])
    assert not built, f"refusals whose text is built, not a literal: {built}"
    korean = i18n.catalogue("ko")
    missing = {t: where for t, where in texts.items() if t not in korean}
    assert not missing, f"refusals with no Korean in dialer/web/locale/ko/: {missing}"


def test_a_refusal_is_said_in_the_readers_language() -> None:
    from campaigns.lifecycle import CampaignError
    from campaigns.refusals import Code, Phrase

    exc = CampaignError("a {status} campaign cannot {action}; it can: {can}",
                        status=Code("finished", "status"), action="start", can="—")
    assert str(exc) == "a finished campaign cannot start; it can: —"  # the CLI's English
    assert i18n.said("en", exc) == str(exc)
    korean = i18n.said("ko", exc)
    assert "finished" not in korean and "완료" in korean, korean
    wrapped = CampaignError.again(exc)
    assert i18n.said("ko", wrapped) == korean and str(wrapped) == str(exc)
    assert str(CampaignError.again(KeyError("x"))) == "'x'"  # a foreign message as it is
    flag = Phrase("reprompted")
    assert flag == "reprompted" and json.dumps([flag]) == '["reprompted"]'
    assert i18n.said("ko", flag) != "reprompted"
    assert i18n.said("ko", "plain text") == "plain text"
    busy = Phrase("ended {disposition}", disposition=Code("busy", "disposition"))
    assert busy == "ended busy" and "통화 중" in i18n.said("ko", busy)


def test_a_stored_sentence_is_matched_back_and_said() -> None:
    """A reason or a flag stored as its English (the database, another process) is
    matched to its catalogue text; codes under their placeholder's name become words;
    a script author's own words and unknown texts stay as written."""
    from nlu.phrase import Phrase as NluPhrase

    assert i18n.reason_said("ko", "customer intent request_human") == "고객: 상담원 요청"
    assert i18n.reason_said("en", "customer intent request_human") == (
        "The customer: asked for a person")
    assert i18n.reason_said("ko", "customer hung up") == "고객이 전화를 끊었습니다"
    assert i18n.reason_said("ko", "not_interested") == "관심 없음"
    assert i18n.reason_said("ko", "the caller asked about shoes") == (
        "The caller asked about shoes")
    assert i18n.said_any("ko", "a draft campaign cannot pause; it can: start, stop") == (
        "초안 상태의 캠페인은 일시 정지할 수 없습니다. 가능한 동작: start, stop")
    assert i18n.said_any("ko", "x" * 5000) == "x" * 5000  # too long to be one of ours
    # a phrase of a layer without Code: the value under {intent} is still a code
    assert "상담원 요청" in i18n.said("ko", NluPhrase("customer intent {intent}",
                                                   intent="request_human"))
