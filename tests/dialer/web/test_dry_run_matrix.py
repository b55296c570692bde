"""Issue 19: a dry-run from the web runs the matrix, personas x the personas file's
`lines:`: one rehearsal per line, prepared in the request and called in turn by one
background process; the server's limit counts the matrix once; the page shows each
line's verdict, the matrix's, and which lines are still waiting."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns import attempts, dispatch, lifecycle
from campaigns.models import CallAttempt, Contact
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.sandbox import rehearsal
from dialer.sandbox.personas import load_personas
from dialer.web.app import create_app
from dialer.web.routes.dry_runs import dry_runs_under_way, start_dry_run
from tests.dialer.web.test_web_campaigns import DEMO, PASSWORD, login

LINES = ["pcmu", "g722+street@15", "pcma+babble@10+loss@2"]


def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> Any:
    """The app with scripts `lined` (the demo's personas on LINES) and `broken` (its
    `lines:` names a codec the simulator has not); no dry-run process ever starts."""
    started: list[list[str]] = []

    class NoProcess:  # the runner would start Redis, a simulator and a worker
        def __init__(self, args: list[str], **_: Any) -> None:
            started.append(list(args))

    monkeypatch.setattr(subprocess, "Popen", NoProcess)
    data = tmp_path / "data"
    for name, lines in (("lined", ", ".join(LINES)), ("broken", "pcmu, opus")):
        shutil.copytree(DEMO, data / "scripts" / name)
        personas = data / "scripts" / name / "personas.yml"
        personas.write_text(f"lines: [{lines}]\n" + personas.read_text(encoding="utf-8"),
                            encoding="utf-8")
    app = create_app(CampaignSettings(data_dir=data, max_dry_runs=limit))
    create_user(app.state.db, "mina", PASSWORD, "marketing")
    app.state.started = started
    return app


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_app(tmp_path, monkeypatch, limit=2)


def new_campaign(c: Any, csrf: str, name: str, script: str = "lined") -> int:
    r = c.post("/api/campaigns", headers={"X-CSRF-Token": csrf},
               json={"name": name, "script": script})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def start(c: Any, csrf: str, cid: int) -> Any:
    return c.post(f"/api/campaigns/{cid}/dry-runs", headers={"X-CSRF-Token": csrf})


def statuses(app: Any, ids: list[int]) -> list[str]:
    return [lifecycle.progress(app.state.db, rid)["status"] for rid in ids]


def test_three_lines_make_three_rehearsals_called_in_turn_by_one_process(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "spring")
    r = start(c, csrf, cid)
    assert r.status_code == 202, r.text
    ids = r.json()["rehearsal_ids"]
    assert len(ids) == 3 and r.json()["rehearsal_id"] == ids[0]
    [args] = app.state.started
    assert args[args.index("campaign"):args.index("campaign") + 3] == [
        "campaign", "dry-run", str(cid)]
    # Each rehearsal with its line, in the lines' order.
    pairs = re.findall(r"--line (\S+) --prepared (\d+)", " ".join(args))
    assert pairs == [(line, str(rid)) for line, rid in zip(LINES, ids, strict=True)]
    listed = c.get(f"/api/campaigns/{cid}/dry-runs").json()
    assert [(x["rehearsal"]["id"], x["line"]) for x in listed] == list(
        zip(ids[::-1], LINES[::-1], strict=True))  # newest first
    assert all(x["rehearsal"]["name"].endswith(f" · {x['line']}") for x in listed)
    assert {x["matrix"]["id"] for x in listed} == {ids[0]}
    # Nothing has run yet: the first line is starting, the others wait for it.
    assert [x["result"] for x in listed[::-1]] == ["calling", "waiting", "waiting"]
    page = c.get(f"/campaigns/{cid}/dry-runs")
    assert page.status_code == 200
    assert f'id="matrix-{ids[0]}"' in page.text
    assert "Line 1 of 3 (pcmu) is being called; 0 done, 2 waiting." in page.text
    assert page.text.count('data-result="waiting"') == 4  # 2 rows and 2 sections
    assert "line 3 of 3: pcma+babble@10+loss@2" in page.text
    # One matrix at a time per campaign.
    again = c.post(f"/campaigns/{cid}/dry-runs", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already under way" in again.text
    assert len(app.state.started) == 1


def test_the_server_limit_counts_a_matrix_as_one_dry_run(app: Any) -> None:
    c, csrf = login(app)
    first, second, third = (new_campaign(c, csrf, n) for n in ("one", "two", "three"))
    assert start(c, csrf, first).status_code == 202
    assert dry_runs_under_way(app.state.db) == 1  # 3 rehearsals, one dry-run
    assert start(c, csrf, second).status_code == 202  # the limit is 2
    assert dry_runs_under_way(app.state.db) == 2
    refused = start(c, csrf, third)
    assert refused.status_code == 409
    assert "2 dry-run(s) are under way on this server" in refused.json()["detail"]
    assert len(app.state.started) == 2
    assert c.get(f"/api/campaigns/{third}/dry-runs").json() == []


def test_of_two_clicks_that_passed_the_limit_together_the_later_stops_every_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path, monkeypatch, limit=1)
    c, csrf = login(app)
    early, late = new_campaign(c, csrf, "early"), new_campaign(c, csrf, "late")
    prepare = rehearsal.prepare_rehearsal
    made: dict[int, list[int]] = {early: [], late: []}
    overtaken: list[int] = []

    def racing(db: Any, campaign_id: int, *args: Any, **kwargs: Any) -> int:
        # The late click has passed the limit; the early one passes it now too, before
        # the late one has prepared anything.
        if campaign_id == late and not overtaken:
            overtaken.extend(start_dry_run(db, app.state.settings, early))
        rid = prepare(db, campaign_id, *args, **kwargs)
        made[campaign_id].append(rid)
        return rid

    monkeypatch.setattr(rehearsal, "prepare_rehearsal", racing)
    refused = start(c, csrf, late)
    assert refused.status_code == 409
    assert "1 dry-run(s) are under way" in refused.json()["detail"]
    assert overtaken == made[early] and len(made[late]) == 3
    assert statuses(app, made[late]) == ["stopped"] * 3
    assert statuses(app, made[early]) == ["draft"] * 3
    [args] = app.state.started  # the early click's only
    assert f"--prepared {made[early][-1]}" in " ".join(args)
    assert dry_runs_under_way(app.state.db) == 1


@pytest.mark.parametrize("tick", [0, 1], ids=["same second", "a second apart"])
def test_of_two_clicks_on_one_campaign_at_once_the_later_gives_way(
        app: Any, monkeypatch: pytest.MonkeyPatch, tick: int) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "double")
    ticks = iter(range(0, 1000, tick) if tick else [0] * 1000)

    class Clock(datetime):  # the stamp in a rehearsal's name: same second, or not
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime(2026, 5, 1, 10, 0, 0) + timedelta(seconds=next(ticks))

    monkeypatch.setattr(rehearsal, "datetime", Clock)
    prepare = rehearsal.prepare_rehearsal
    inner: list[int] = []
    outer: list[int] = []
    clicks: list[str] = []

    def racing(db: Any, campaign_id: int, *args: Any, **kwargs: Any) -> int:
        if not clicks:  # a double click: the other request passes the check meanwhile
            clicks.append("inner")
            assert start_dry_run(db, app.state.settings, campaign_id) == inner
            clicks.append("outer")
        rid = prepare(db, campaign_id, *args, **kwargs)
        (inner if clicks[-1] == "inner" else outer).append(rid)
        return rid

    monkeypatch.setattr(rehearsal, "prepare_rehearsal", racing)
    refused = start(c, csrf, cid)
    # (In the same second, its first rehearsal's name is already taken: it gives way
    # then, as soon as it tries to prepare it; else once it has prepared them all.)
    assert refused.status_code == 409 and "already under way" in refused.json()["detail"]
    assert len(outer) == 3 * tick
    listed = c.get(f"/api/campaigns/{cid}/dry-runs").json()
    assert sorted(x["rehearsal"]["id"] for x in listed) == sorted(inner + outer)
    assert statuses(app, outer) == ["stopped"] * len(outer)
    assert statuses(app, inner) == ["draft"] * 3
    assert [x["result"] for x in listed if x["rehearsal"]["id"] in inner] == [
        "waiting", "waiting", "calling"]
    assert len(app.state.started) == 1


def call_everyone(app: Any, rid: int, wrong: tuple[str, ...] = ()) -> None:
    """Play the rehearsal's calls: each persona's ends as it expects, but those named in
    `wrong`, which end hung up at the greeting."""
    db = app.state.db
    cast = {p.name: p for p in load_personas(DEMO / "personas.yml").values()}
    if lifecycle.progress(db, rid)["status"] == "draft":
        lifecycle.change_status(db, rid, "start")
    while claimed := dispatch.claim_due(db, sandbox=True, only_campaign=rid):
        for attempt in claimed:
            with db.session() as s:
                persona = s.scalar(select(Contact.fields).join(CallAttempt).where(
                    CallAttempt.id == attempt))["persona"]
            expect = cast[persona].expect
            assert expect is not None and expect.disposition is not None
            ok = persona not in wrong
            attempts.finish_attempt(
                db, attempt, disposition=expect.disposition if ok else "hung_up",
                sip_status=200, sip_reason="OK", reason=None, handoff=False,
                end_node=expect.node if ok else "greeting", recording=None)
    assert rid in lifecycle.finish_campaigns(db)


def test_the_page_shows_each_lines_verdict_and_the_matrixs(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "summer")
    ids = start(c, csrf, cid).json()["rehearsal_ids"]
    call_everyone(app, ids[0])
    lifecycle.change_status(app.state.db, ids[1], "start")  # the second line is calling
    page = c.get(f"/campaigns/{cid}/dry-runs").text
    assert "Line 2 of 3 (g722+street@15) is being called; 1 done, 1 waiting." in page
    assert re.search(r'data-line="pcmu" data-result="passed">.*?✓ pass', page, re.DOTALL)
    assert 'data-line="pcma+babble@10+loss@2" data-result="waiting"' in page
    assert 'data-under-way="1"' in page  # the page keeps looking again

    call_everyone(app, ids[1])
    call_everyone(app, ids[2], wrong=("not interested",))
    page = c.get(f"/campaigns/{cid}/dry-runs").text
    verdict = re.search(r'<p class="matrix-verdict"><strong class="(\w+)">([^<]*)', page)
    assert verdict and verdict.groups() == (
        "error", "Passed on 2 of 3 lines; failed on pcma+babble@10+loss@2.")
    rows = dict(re.findall(r'<tr data-line="([^"]+)" data-result="(\w+)"', page))
    assert rows == {"pcmu": "passed", "g722+street@15": "passed",
                    "pcma+babble@10+loss@2": "failed"}
    assert "<td>5 of 6</td>" in page  # personas as expected on the failed line
    assert 'data-under-way="1"' not in page and "Run a dry-run" in page
    listed = c.get(f"/api/campaigns/{cid}/dry-runs").json()
    assert listed[0]["matrix"]["verdict"]["failed"] == ["pcma+babble@10+loss@2"]
    assert listed[0]["matrix"]["verdict"]["ok"] is False


def test_a_matrix_on_every_line_passed_says_so(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "autumn")
    for rid in start(c, csrf, cid).json()["rehearsal_ids"]:
        call_everyone(app, rid)
    page = c.get(f"/campaigns/{cid}/dry-runs").text
    assert '<p class="matrix-verdict"><strong class="done">Passed on all 3 lines.' in page


def test_a_line_that_stopped_and_those_never_called_are_not_passes(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "winter")
    ids = start(c, csrf, cid).json()["rehearsal_ids"]
    call_everyone(app, ids[0])
    for rid in ids[1:]:  # what the runner does when the second line fails
        lifecycle.change_status(app.state.db, rid, "stop")
    page = c.get(f"/campaigns/{cid}/dry-runs").text
    assert ("Passed on 1 of 3 lines; stopped on g722+street@15, pcma+babble@10+loss@2."
            in page)


def test_bad_lines_in_the_personas_file_are_said_on_the_page(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "broken", script="broken")
    page = c.post(f"/campaigns/{cid}/dry-runs", data={"csrf_token": csrf})
    assert page.status_code == 409
    assert "personas.yml: lines[1]" in page.text and "codec" in page.text
    api = start(c, csrf, cid)
    assert api.status_code == 409 and "lines[1]" in api.json()["detail"]
    assert app.state.started == [] and c.get(f"/api/campaigns/{cid}/dry-runs").json() == []


def test_a_personas_file_broken_after_a_dry_run_is_said_not_a_500(app: Any) -> None:
    c, csrf = login(app)
    cid = new_campaign(c, csrf, "spoilt")
    assert start(c, csrf, cid).status_code == 202
    personas = Path(c.get(f"/api/campaigns/{cid}").json()["script_dir"]) / "personas.yml"
    personas.write_text("personas: none of them\n", encoding="utf-8")
    page = c.get(f"/campaigns/{cid}/dry-runs")
    assert page.status_code == 200
    assert "expected &#39;personas:&#39; with a list of personas" in page.text
    listed = c.get(f"/api/campaigns/{cid}/dry-runs")
    assert listed.status_code == 200 and len(listed.json()) == 3
