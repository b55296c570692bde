"""A campaign's page as marketing's cockpit, through the app with a real database:
Start and Stop are asked twice and say what they will do (how many people, between which
hours, in whose time), the pre-launch checklist, the script's prompts as the first contact
hears them (names hidden from analysts), live outcomes in words with links to the calls,
and no server path anywhere.

Before: Start and Stop were identical adjacent buttons that acted at once, the page showed
the script as a server path, and nothing on it moved or linked anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from campaigns import attempts, dispatch, lifecycle, list_imports
from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from dialer.web.cockpit import checklist, cockpit, live
from dialer.web.words import DISPOSITIONS, disposition_word, duration_words
from tests.dialer.web.test_web_campaigns import DEMO, PASSWORD, login


def campaign(db: Database, tmp_path: Path, name: str, rows: str, *,
             dry_run: bool = False) -> int:
    csv = tmp_path / f"{name}.csv"
    csv.write_text("name,phone\n" + rows, encoding="utf-8")
    return list_imports.create_campaign(db, name=name, script_dir=DEMO, csv_path=csv,
                                        uploads_dir=tmp_path / "up",
                                        dry_run=dry_run).campaign_id


def app_with_users(tmp_path: Path) -> Any:
    app: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(app.state.db, "mina", PASSWORD, "marketing")
    create_user(app.state.db, "ana", PASSWORD, "analyst")
    return app


def test_start_and_stop_are_confirmed_saying_what_they_do(tmp_path: Path) -> None:
    app = app_with_users(tmp_path)
    cid = campaign(app.state.db, tmp_path, "spring offer",
                   "한지민,010-5100-0001\n김민수,010-5100-0002\n이서연,010-5100-0003\n")
    c, csrf = login(app)
    page = c.get(f"/campaigns/{cid}").text
    assert str(DEMO) not in page and "script.yml" not in page  # no server path
    assert "Start…" in page and "Stop for good…" in page
    asked = c.post(f"/campaigns/{cid}/status", data={"action": "start", "csrf_token": csrf})
    assert asked.status_code == 200, asked.text[:300]
    assert "Start dialing?" in asked.text, asked.text[asked.text.find("<main>"):][:3000]
    assert ("Starting dials 3 people between 09:00 and 20:00 their time (Asia/Seoul), "
            "up to 2 at a time.") in asked.text
    assert c.get(f"/api/campaigns/{cid}").json()["status"] == "draft"  # nothing yet
    done = c.post(f"/campaigns/{cid}/status",
                  data={"action": "start", "confirmed": "yes", "csrf_token": csrf})
    assert done.status_code == 303
    assert c.get(f"/api/campaigns/{cid}").json()["status"] == "running"
    paused = c.post(f"/campaigns/{cid}/status", data={"action": "pause", "csrf_token": csrf})
    assert paused.status_code == 303  # pausing dials nobody: at once
    stop = c.post(f"/campaigns/{cid}/status", data={"action": "stop", "csrf_token": csrf})
    assert "Stop this campaign for good?" in stop.text
    assert "the 3 people not yet reached will not be called" in stop.text
    assert c.get(f"/api/campaigns/{cid}").json()["status"] == "paused"
    # A forged "confirmed" for an action the campaign cannot take is still refused.
    c.post(f"/campaigns/{cid}/status",
           data={"action": "stop", "confirmed": "yes", "csrf_token": csrf})
    late = c.post(f"/campaigns/{cid}/status", data={"action": "start", "csrf_token": csrf})
    assert late.status_code == 409
    ana, ana_csrf = login(app, "ana")
    assert ana.post(f"/campaigns/{cid}/status", data={
        "action": "start", "csrf_token": ana_csrf}).status_code == 403


def test_the_checklist_the_prompts_and_the_live_outcomes(tmp_path: Path) -> None:
    app = app_with_users(tmp_path)
    db = app.state.db
    cid = campaign(db, tmp_path, "winter", "한지민,010-5100-0001\n김민수,010-5100-0002\n")
    c, _ = login(app)
    view = c.get(f"/api/campaigns/{cid}").json()
    k = cockpit(db, {**view, "imports": view["imports"]}, "marketing",
                now=datetime(2026, 3, 6, 1, 0, tzinfo=UTC))  # 10:00 in Seoul
    states = {x.name: x.state for x in k["checklist"]}
    assert states == {"list": "ok", "dry-run": "warn", "window": "ok"}, k["checklist"]
    night = checklist(db, view, k["live"], ["Asia/Seoul"],
                      datetime(2026, 3, 6, 12, 30, tzinfo=UTC))  # 21:30 in Seoul
    assert night[2].state == "warn" and "first calls go out in 11 h 30 min" in night[2].text
    assert k["prompts"]["nodes"][0]["node"] == "greeting"
    assert k["prompts"]["nodes"][0]["text"].startswith("안녕하세요 한지민 고객님.")

    page = c.get(f"/campaigns/{cid}").text
    assert "안녕하세요 한지민 고객님." in page and 'id="checklist"' in page
    assert f'href="/calls?campaign={cid}"' in page
    assert f'href="/dashboard?campaign={cid}"' in page
    ana, _ = login(app, "ana")
    masked = ana.get(f"/campaigns/{cid}").text
    assert "한지민" not in masked and "안녕하세요 한•• 고객님." in masked

    lifecycle.start_campaign(db, cid)
    morning = (datetime.now(UTC) + timedelta(days=1)).replace(hour=1, minute=0)  # 10:00 KST
    claimed = dispatch.claim_due(db, now=morning)
    assert len(claimed) == 2, claimed
    for a, disposition in zip(claimed, ("interested", "not_interested"), strict=True):
        attempts.finish_attempt(db, a, disposition=disposition, sip_status=200,
                                sip_reason="OK", reason="", handoff=False,
                                end_node="close", recording=None)
    now = c.get(f"/api/campaigns/{cid}/live").json()
    assert (now["status"], now["done"], now["total"]) == ("running", 2, 2)
    assert [(o["label"], o["count"], o["colour"]) for o in now["outcomes"]] == [
        ("Interested", 1, "#067647"), ("Not interested", 1, "#d92d20")]
    korean = c.get(f"/api/campaigns/{cid}/live", headers={"Accept-Language": "ko"}).json()
    assert [o["label"] for o in korean["outcomes"]] == ["관심 있음", "관심 없음"]  # the page's words
    page = c.get(f"/campaigns/{cid}").text
    assert "not_interested<" not in page and ">Not interested</a>" in page
    assert '<span class="status running" id="status">Running</span>' in page
    assert f"/calls?campaign={cid}&amp;disposition=not_interested" in page
    assert live(db, cid)["pending"] == 0


def test_words_for_codes() -> None:
    from campaigns.statuses import Disposition

    assert set(DISPOSITIONS) == {d.value for d in Disposition}
    assert disposition_word("opt_out", "ko") == "수신 거부"
    assert disposition_word("new_code") == "New code"
    assert [duration_words(s) for s in (300, 5400, 90, 86400 + 3600, 0)] == [
        "5 min", "1 h 30 min", "1 min 30 s", "1 d 1 h", "0 s"]
