"""Routes for operations: GET /metrics, the Prometheus text exposition of the dialer's
calls, queues, agents and voice-loop timings (dialer/opsmetrics.py).

It needs no login, so a Prometheus server can scrape it; with DIALER_METRICS_TOKEN set it
wants `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: ...}`).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from campaigns.db import Database
from dialer.auth import PUBLIC
from dialer.opsmetrics import OpsCollector, redis_client
from dialer.settings import DialerSettings


def add_routes(app: FastAPI, db: Database, allow: Any) -> None:
    settings = DialerSettings()
    token = settings.metrics_token or None
    registry = CollectorRegistry(auto_describe=False)  # ours alone, not the process's
    registry.register(OpsCollector(db, redis_client(settings.resolved_acd_url)))

    @app.get("/metrics", response_class=PlainTextResponse, dependencies=[allow(PUBLIC)])
    def metrics(request: Request) -> Response:
        """Prometheus metrics (text format); a bearer token when DIALER_METRICS_TOKEN is
        set."""
        if token is not None:
            scheme, _, sent = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    sent.strip().encode(), token.encode()):
                return PlainTextResponse("metrics need Authorization: Bearer <token>\n",
                                         status_code=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
