"""Routes for operations: GET /metrics, the Prometheus text exposition of the dialer's
calls, queues, agents and voice-loop timings (dialer/opsmetrics.py).

It is closed by default: an admin's or supervisor's login opens it, and so does
`Authorization: Bearer <DIALER_METRICS_TOKEN>` when that is set (Prometheus:
`authorization: {credentials: ...}`). Anything else gets 401 (a wrong token, no login)
or 403 (another role): the numbers show how busy the business is, which is nobody
else's to scrape.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from campaigns.db import Database
from campaigns.models import Role
from dialer.auth import Bearer
from dialer.opsmetrics import OpsCollector, redis_client
from dialer.settings import DialerSettings


def add_routes(app: FastAPI, db: Database, allow: Any) -> None:
    settings = DialerSettings()
    bearer = Bearer(settings.metrics_token or None, "DIALER_METRICS_TOKEN")
    registry = CollectorRegistry(auto_describe=False)  # ours alone, not the process's
    registry.register(OpsCollector(db, redis_client(settings.resolved_acd_url)))

    @app.get("/metrics", response_class=PlainTextResponse,
             dependencies=[allow(Role.ADMIN, Role.SUPERVISOR, bearer=bearer)])
    def metrics() -> Response:
        """Prometheus metrics (text format): an admin's or supervisor's login, or the
        bearer token DIALER_METRICS_TOKEN."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
