"""Every operation of the API, as every role and logged out, with inputs schemathesis
makes from our own OpenAPI schema (valid and invalid ones): the app answers each with a
status below 500 and never shows a traceback.

The app runs on a real SQLite database seeded with a campaign, its contacts and call
attempts, an import batch, a DNC entry and a user of every role, and on a private
redis-server for the ACD, so the routes that need Redis run for real: a 503 here would
be a failure, not an expected answer. Generation is derandomized so CI sees the same
inputs every run; DIALER_FUZZ_EXAMPLES raises the number of examples for a deeper run.
"""

from __future__ import annotations

import os
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from campaigns import attempts, dispatch, dnc, lifecycle, list_imports
from campaigns.models import Role
from campaigns.settings import CampaignSettings
from campaigns.synthetic import generate
from campaigns.users import create_user, login, session_user, update_user
from dialer.web.app import create_app
from tests.support.procs import DEMO, ROOT, redis_server

PASSWORD = "a long password"
USERS = {Role.ADMIN: "root", Role.MARKETING: "mina", Role.AGENT: "jisu",
         Role.ANALYST: "ana", Role.SUPERVISOR: "boss"}
# Examples per operation: many for a role the operation is for, a few for the others
# (they stop at the role check, but with garbage in every part of the request).
EXAMPLES = int(os.environ.get("DIALER_FUZZ_EXAMPLES", "40"))
EXAMPLES_REFUSED = max(2, EXAMPLES // 4)
# Server-sent event streams never end, so a generated request would wait for its read
# timeout on every example; what they check before streaming (login, role, Redis) is
# the same `allow` guard and ACD client every other route here exercises.
NOT_FUZZED = {"GET /api/acd/events", "GET /api/wallboard/events"}
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("fuzz-redis")) as url:
        yield url


class Seeded:
    """The app for one role's run and the ids that exist in its database."""

    def __init__(self, app: Any, ids: dict[str, Any]) -> None:
        self.app = app
        self.db = app.state.db
        self.ids = ids


@pytest.fixture
def seeded(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    redis.Redis.from_url(redis_url).flushall()  # each role starts with an empty ACD
    monkeypatch.setenv("DIALER_ACD_URL", redis_url)
    data = tmp_path / "data"
    data.mkdir()
    # A short made-up history first: it writes its own row ids, the app's come after.
    campaign_ids, _ = generate(f"sqlite:///{data / 'dialer.db'}", 12)
    app = create_app(CampaignSettings(data_dir=data))
    db = app.state.db
    user_ids = {role: create_user(db, name, PASSWORD, role, f"sip:{name}@127.0.0.1:5999"
                                  if role in (Role.AGENT, Role.SUPERVISOR) else None)
                for role, name in USERS.items()}
    summary = list_imports.create_campaign(db, name="fuzz", script_dir=DEMO,
                                      csv_path=DEMO / "contacts.csv",
                                      uploads_dir=data / "uploads", dry_run=True)
    lifecycle.start_campaign(db, summary.campaign_id)
    claimed = dispatch.claim_due(db, now=datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    for n, attempt in enumerate(claimed[:2]):
        attempts.finish_attempt(db, attempt, disposition=("interested", "handoff")[n],
                               sip_status=200, sip_reason="OK", reason=None,
                               handoff=bool(n), end_node="close", recording=None)
    dnc.add_number(db, "010-2222-0001", region="KR", source="api", added_by="root")
    ids = {"campaign_id": summary.campaign_id, "batch_id": summary.batch_id,
           "attempt_id": claimed[0] if claimed else 1, "user_id": user_ids[Role.ANALYST],
           "phone": "+821022220001", "campaign": campaign_ids[0]}
    return Seeded(app, ids)


class Login:
    """One role's session; put back when a fuzzed request ended or changed it (a
    logout, or an admin changing their own password)."""

    def __init__(self, seeded: Seeded, role: Role) -> None:
        self.seeded, self.role = seeded, role
        client = TestClient(seeded.app)
        answer = client.post("/api/login", json={"username": USERS[role],
                                                 "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        self.user_id = session_user(seeded.db, client.cookies["dialer_session"]).id  # type: ignore[union-attr]
        self.token, self.csrf = client.cookies["dialer_session"], answer.json()["csrf_token"]

    def restore(self) -> None:
        user = session_user(self.seeded.db, self.token)
        if user is not None and user.role == self.role:
            return
        update_user(self.seeded.db, self.user_id, role=self.role, active=True,
                    password=PASSWORD)
        self.token, current = login(self.seeded.db, USERS[self.role], PASSWORD)
        self.csrf = current.csrf_token


# Values a generator seldom makes by chance that break what a schema calls valid: ids
# past 64 bits (SQLite raises OverflowError, PostgreSQL a DataError), days at the ends
# of the calendar (a time-zone shift leaves it), and text longer than any column.
EDGES: dict[str, tuple[Any, ...]] = {
    "huge numbers": (2**63, -(2**63) - 1, 2**64 + 1),
    "calendar ends": ("0001-01-01", "9999-12-31", "9999-12-31T23:59:59-12:00"),
    "long text": ("가" * 5000, "x" * 20000, "1" * 300),
}
DAY_NAMES = {"start", "end", "first_day", "last_day", "callback_at"}


def edge(kind: str, name: str, value: Any, new: Any) -> Any:
    """`value` with every part of the kind replaced by `new`."""
    if isinstance(value, dict):
        return {k: edge(kind, k, v, new) for k, v in value.items()}
    if isinstance(value, list):
        return [edge(kind, name, v, new) for v in value]
    if kind == "huge numbers" and isinstance(value, int) and not isinstance(value, bool):
        return new
    if kind == "calendar ends" and name in DAY_NAMES:
        return new
    if kind == "long text" and isinstance(value, str) and name not in DAY_NAMES:
        return new
    return value


def missing_query(operation: Any, kind: str) -> dict[str, Any]:
    """Query parameters of the kind, sent even when the generator left them out."""
    out: dict[str, Any] = {}
    for parameter in operation.definition.raw.get("parameters", []):
        name, schema = parameter["name"], str(parameter.get("schema"))
        takes = {"huge numbers": "'integer'" in schema, "calendar ends": name in DAY_NAMES,
                 "long text": "'string'" in schema and name not in DAY_NAMES}
        if parameter.get("in") == "query" and takes[kind]:
            out[name] = 1 if kind == "huge numbers" else ""
    return out


def mutate(operation: Any, ids: dict[str, Any]) -> Callable[[Any, bool, str, int], Any]:
    """A case as generated, or naming rows that exist (so the handlers get past their
    404s), and with one kind of edge value in its path, query and body."""

    def apply(case: Any, known: bool, kind: str, pick: int) -> Any:
        if known and case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        if kind not in EDGES:
            return case
        new = EDGES[kind][pick % len(EDGES[kind])]
        if case.path_parameters and not known:
            case.path_parameters = edge(kind, "", case.path_parameters, new)
        query = {**missing_query(operation, kind), **(case.query or {})}
        if query:
            case.query = edge(kind, "", query, new)
        if isinstance(case.body, dict):
            case.body = edge(kind, "", case.body, new)
        return case

    return apply


def cases(operation: Any, ids: dict[str, Any]) -> st.SearchStrategy[Any]:
    modes = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.body:
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.builds(mutate(operation, ids), st.one_of(modes), st.booleans(),
                     st.sampled_from(["as generated", *EDGES]), st.integers(0, 2))


@pytest.fixture
def no_dry_run_processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A dry-run request starts a whole rehearsal (simulator, worker, broker) as its own
    process; here only the request's answer is under test, so the start is recorded."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        if "dry-run" in list(args):
            started.append(list(args))
            return real(["true"])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started


def schema_of(seeded: Seeded) -> Any:
    client = TestClient(seeded.app)
    client.post("/api/login", json={"username": USERS[Role.ADMIN], "password": PASSWORD})
    raw = client.get("/api/openapi.json")
    assert raw.status_code == 200, raw.text
    schema = schemathesis.openapi.from_dict(raw.json())
    schema.app = seeded.app
    return schema


def root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def where(exc: BaseException) -> str:
    """What first went wrong (Starlette re-raises some errors as others) and the
    innermost lines of the project's own code on its way."""
    notes = getattr(exc, "__notes__", [])  # schemathesis adds the request as a curl command
    exc = root_cause(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and ".venv" not in f.filename
            and "/tests/" not in f.filename]
    return (f"{type(exc).__name__}: {str(exc)[:300]}\n"
            + "".join(traceback.format_list([*ours[-3:], *frames[-1:]]))
            + "\n".join(notes)[:1000])


def problem(status: int, text: str) -> str | None:
    if status >= 500:
        return f"status {status}: {text[:300]}"
    if TRACEBACK in text:
        return f"a traceback in the answer: {text[:300]}"
    return None


@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: r or "logged-out")
def test_no_operation_answers_5xx_or_a_traceback(
        seeded: Seeded, role: Role | None, no_dry_run_processes: list[list[str]]) -> None:
    schema = schema_of(seeded)
    me = Login(seeded, role) if role is not None else None
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in NOT_FUZZED:
            continue
        fuzzed += 1
        roles = operation.definition.raw.get("x-roles", [])
        allowed = "public" in roles or (role is not None and role in roles)

        @settings(max_examples=EXAMPLES if allowed else EXAMPLES_REFUSED, derandomize=True,
                  database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=cases(operation, seeded.ids))
        def run(case: Any) -> None:
            if me is None:
                response = case.call()
            else:
                me.restore()
                response = case.call(cookies={"dialer_session": me.token},
                                     headers={"X-CSRF-Token": me.csrf})
            found = problem(response.status_code,
                            response.content.decode("utf-8", "replace"))
            assert found is None, f"{found}\n{case.as_curl_command()}"

        who = f"{operation.label} as {role or 'logged out'}"
        try:
            run()
        except AssertionError as exc:  # every operation is tried; all findings are reported
            failures.append(f"{who}: {str(exc)[:1500]}")
        except Exception as exc:  # noqa: BLE001 - the app raised instead of answering
            failures.append(f"{who}: {where(exc)}")
    assert fuzzed > len(NOT_FUZZED), "the schema lists (almost) no operations"
    assert not failures, "\n\n".join(failures)


# -- what the fuzzing found, kept as examples ---------------------------------------

BIG = 2**63  # one past the largest id SQLite and PostgreSQL can hold


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for role, name in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    return application


def client_of(app: Any, role: Role) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/api/login", json={"username": USERS[role], "password": PASSWORD})
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


@pytest.mark.parametrize("url", [f"/api/campaigns/{BIG}", f"/api/calls/{-BIG - 1}",
                                 f"/api/calls?campaign={BIG}", f"/api/audit?page={BIG}"])
def test_an_id_past_64_bits_is_refused_in_json(app: Any, url: str) -> None:
    client, _ = client_of(app, Role.ADMIN)
    answer = client.get(url)
    assert answer.status_code == 422, answer.text
    assert "a number in the request is out of range" in answer.json()["detail"]


@pytest.mark.parametrize("url", [f"/campaigns/{BIG}", f"/admin/audit?page={BIG}",
                                 f"/calls?campaign={BIG}"])
def test_an_id_past_64_bits_is_refused_on_a_page(app: Any, url: str) -> None:
    client, _ = client_of(app, Role.ADMIN)
    answer = client.get(url)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert "a number in the request is out of range" in answer.text and TRACEBACK not in answer.text


def test_a_body_number_past_64_bits_is_refused(app: Any) -> None:
    client, csrf = client_of(app, Role.MARKETING)
    answer = client.post("/api/dnc", json={"phone": "010-2222-3333", "campaign_id": BIG},
                         headers=csrf)
    assert answer.status_code in (400, 404, 422), answer.text  # the route's or web_errors'
    assert str(BIG) in answer.json()["detail"] or "out of range" in answer.json()["detail"]


def test_a_time_off_the_calendar_is_refused(app: Any) -> None:
    client, _ = client_of(app, Role.ADMIN)
    answer = client.get("/api/cdr.xlsx", params={"end": "9999-12-31T23:59:59-12:00"})
    assert answer.status_code == 422, answer.text
    assert "outside the calendar" in answer.json()["detail"]


def test_text_longer_than_its_column_is_refused(tmp_path: Path, db_url: str) -> None:
    """PostgreSQL enforces VARCHAR(200) on a campaign's name (a DataError); SQLite keeps
    the text as it came."""
    application = create_app(CampaignSettings(data_dir=tmp_path / "data", database_url=db_url))
    create_user(application.state.db, "mina", PASSWORD, Role.MARKETING)
    client, csrf = client_of(application, Role.MARKETING)
    answer = client.post("/api/campaigns", json={"name": "가" * 300, "script": "demo"},
                         headers=csrf)
    if db_url.startswith("sqlite"):
        assert answer.status_code == 201, answer.text
    else:
        assert answer.status_code == 422, answer.text
        assert "cannot be stored (value too long" in answer.json()["detail"]


def test_the_mapping_page_of_a_list_with_a_bare_carriage_return(app: Any) -> None:
    """The page previews the list the phone column of which could not be told; its
    preview once let the csv module's error out on a bare CR in a cell (a 500)."""
    client, csrf = client_of(app, Role.MARKETING)
    cid = client.post("/api/campaigns", json={"name": "cr", "script": "demo"},
                      headers=csrf).json()["id"]
    upload = client.post(f"/api/campaigns/{cid}/imports", headers=csrf, files={
        "csv_file": ("list.csv", b"name,memo\nkim,a\rb\n", "text/csv")})
    batch = upload.json()["import_id"]
    for _ in range(200):
        if client.get(f"/api/imports/{batch}").json()["status"] == "needs_mapping":
            break
        time.sleep(0.05)
    answer = client.get(f"/campaigns/{cid}/imports/{batch}")
    assert answer.status_code == 200 and "Which column holds the phone numbers?" in answer.text


def test_cdr_csv_of_a_campaign_id_past_64_bits(app: Any) -> None:
    """The export streams: its query once ran after the 200 went out, so an id SQLite
    cannot hold broke the download half-way instead of being refused."""
    client, _ = client_of(app, Role.ADMIN)
    answer = client.get("/api/cdr.csv", params={"campaign": BIG})
    assert 400 <= answer.status_code < 500, answer.text
