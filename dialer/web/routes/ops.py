"""Routes for operations: GET /metrics, the Prometheus text exposition of the dialer's
calls, queues, agents and voice-loop timings (dialer/opsmetrics.py).

It is closed by default: an admin's or supervisor's login opens it, and so does
`Authorization: Bearer <DIALER_METRICS_TOKEN>` when that is set (Prometheus:
`authorization: {credentials: ...}`). Anything else gets 401 (a wrong token, no login)
or 403 (another role): the numbers show how busy the business is, which is nobody
else's to scrape.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from campaigns.db import Database
from campaigns.models import Role
from dialer.opsmetrics import OpsCollector, redis_client
from dialer.settings import DialerSettings
from dialer.web.auth import Bearer, allow
from dialer.web.deps import metrics_token

router = APIRouter()
BEARER = Bearer("DIALER_METRICS_TOKEN", metrics_token)


def registry(db: Database, settings: DialerSettings) -> CollectorRegistry:
    """The app's own registry (not the process's), its numbers read when scraped
    (`app.state.metrics_registry`)."""
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(OpsCollector(db, redis_client(settings.resolved_acd_url)))
    return collectors


@router.get("/metrics", response_class=PlainTextResponse,
            dependencies=[allow(Role.ADMIN, Role.SUPERVISOR, bearer=BEARER)])
def metrics(request: Request) -> Response:
    """Prometheus metrics (text format): an admin's or supervisor's login, or the
    bearer token DIALER_METRICS_TOKEN."""
    return Response(generate_latest(request.app.state.metrics_registry),
                    media_type=CONTENT_TYPE_LATEST)
