"""Issue 15: dry-runs have a limit on the whole server (each starts a Redis, a simulator
and a worker with the ASR model), and marketing cannot turn a campaign into one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from tests.dialer.web.test_web_campaigns import PASSWORD, login, settings_form


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    started: list[list[str]] = []

    class NoProcess:  # the runner would start Redis, a simulator and a worker
        def __init__(self, args: list[str], **_: Any) -> None:
            started.append(args)

    monkeypatch.setattr(subprocess, "Popen", NoProcess)
    application = create_app(CampaignSettings(data_dir=tmp_path / "data", max_dry_runs=1))
    create_user(application.state.db, "mina", PASSWORD, "marketing")
    application.state.started = started
    return application


def test_no_more_dry_runs_at_once_than_the_server_allows(app: Any) -> None:
    c, csrf = login(app)
    h = {"X-CSRF-Token": csrf}
    ids = [c.post("/api/campaigns", headers=h, json={"name": n, "script": "demo"}).json()["id"]
           for n in ("first", "second")]
    assert c.post(f"/api/campaigns/{ids[0]}/dry-runs", headers=h).status_code == 202
    second = c.post(f"/api/campaigns/{ids[1]}/dry-runs", headers=h)
    assert second.status_code in (409, 422, 429), second.text
    assert "1 dry-run(s) are under way on this server" in second.json()["detail"]
    assert len(app.state.started) == 1


def test_the_campaign_form_cannot_make_a_dry_run(app: Any) -> None:
    c, csrf = login(app)
    r = c.post("/campaigns/new", data=settings_form(csrf, dry_run="1"),
               files={"csv_file": ("list.csv", b"name,phone\nx,010-8100-0001\n", "text/csv")})
    assert r.status_code == 303, r.text[:500]
    cid = int(r.headers["location"].split("/")[2])
    assert c.get(f"/api/campaigns/{cid}").json()["dry_run"] is False


def test_a_link_cannot_put_words_on_the_dry_run_page(app: Any) -> None:
    c, csrf = login(app)
    cid = c.post("/api/campaigns", headers={"X-CSRF-Token": csrf},
                 json={"name": "third", "script": "demo"}).json()["id"]
    bait = "Your account is locked: call 010-9999-0000 now"
    page = c.get(f"/campaigns/{cid}/dry-runs", params={"error": bait})
    assert page.status_code == 200 and bait not in page.text
    # Its own refusals are still shown, in the answer to the request that was refused.
    first = c.post(f"/campaigns/{cid}/dry-runs", data={"csrf_token": csrf})
    assert first.status_code == 303
    again = c.post(f"/campaigns/{cid}/dry-runs", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already under way" in again.text


def test_a_link_cannot_put_words_on_the_dnc_page(app: Any) -> None:
    c, csrf = login(app)
    bait = "Your account is locked: call 010-9999-0000 now"
    for params in ({"error": bait}, {"done": bait}, {"done": "added", "number": bait}):
        page = c.get("/dnc", params=params)
        assert page.status_code == 200 and bait not in page.text, params
    added = c.post("/dnc", data={"phone": "010-8300-0001", "csrf_token": csrf})
    assert added.status_code == 303
    assert "+821083000001 added" in c.get(added.headers["location"]).text
