"""GET /metrics on the real app with a real Redis (the ACD) and a real SQLite database:
Prometheus's text format, closed by default (an admin's or supervisor's login opens it),
and with DIALER_METRICS_TOKEN set a bearer token opens it too (only the right one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.models import utcnow as now
from campaigns.settings import CampaignSettings
from campaigns.statuses import AttemptStatus
from campaigns.users import create_user
from dialer.handoff.acd import Acd
from dialer.opsmetrics import observe_turn
from dialer.web.app import create_app
from tests.support.procs import redis_server

PASSWORD = "a long password"
TOKEN = "s3cret-scrape-token"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("ops-web-redis")) as url:
        yield url


def make_app(work: Path, redis_url: str, token: str | None) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", redis_url)
        if token is None:
            mp.delenv("DIALER_METRICS_TOKEN", raising=False)
        else:
            mp.setenv("DIALER_METRICS_TOKEN", token)
        return create_app(CampaignSettings(data_dir=work))


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_need_a_login_without_a_token(tmp_path: Path, redis_url: str) -> None:
    app = make_app(tmp_path, redis_url, None)
    with app.state.db.session() as s:
        camp = Campaign(name="autumn", script_dir="/nowhere")
        s.add(camp)
        s.flush()
        contact = Contact(campaign_id=camp.id, phone="+821055500001")
        s.add(contact)
        s.flush()
        s.add(CallAttempt(campaign_id=camp.id, contact_id=contact.id, attempt_no=1,
                          status=AttemptStatus.ANSWERED, dialed_at=now(), answered_at=now()))
        campaign_id = camp.id
    Acd.from_url(redis_url).login("mina")
    observe_turn(Acd.from_url(redis_url).r, latency_ms=350.0)

    c = TestClient(app)
    assert c.get("/metrics").status_code == 401, "closed by default"
    create_user(app.state.db, "boss", PASSWORD, "supervisor")
    assert c.post("/api/login", json={"username": "boss", "password": PASSWORD}).is_success
    r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    m = samples(r.text)
    assert m[("dialer_up", frozenset({("component", "acd")}))] == 1
    assert m[("dialer_active_calls", frozenset({("state", "answered")}))] == 1
    assert m[("dialer_calls_dialed_total",
              frozenset({("campaign_id", str(campaign_id)), ("campaign", "autumn")}))] == 1
    assert m[("dialer_agents", frozenset({("state", "not_ready")}))] == 1
    assert m[("dialer_turn_latency_seconds_count", frozenset())] == 1


def test_a_token_closes_them(tmp_path: Path, redis_url: str) -> None:
    app = make_app(tmp_path, redis_url, TOKEN)
    c = TestClient(app)
    missing = c.get("/metrics")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "dialer_up" not in missing.text
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert c.get("/metrics", headers={"Authorization": wrong}).status_code == 401, wrong
    ok = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "dialer_up" in ok.text
    # An admin's session opens it too; a wrong token is still refused, session or not.
    create_user(app.state.db, "boss", PASSWORD, "admin")
    assert c.post("/api/login", json={"username": "boss", "password": PASSWORD}).is_success
    assert c.get("/metrics").status_code == 200
    assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
