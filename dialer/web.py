"""The web app factory. Until the web issues land it shows campaigns and reports only."""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from campaigns.db import Database
from campaigns.report import campaign_report
from campaigns.service import CampaignError, list_campaigns
from campaigns.settings import CampaignSettings


def create_app(settings: CampaignSettings | None = None) -> FastAPI:
    settings = settings or CampaignSettings()
    db = Database(settings.resolved_database_url())
    db.migrate()
    app = FastAPI(title="dialer", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/campaigns")
    def api_campaigns() -> list[dict[str, Any]]:
        return list_campaigns(db)

    @app.get("/api/campaigns/{campaign_id}/report")
    def api_report(campaign_id: int) -> dict[str, Any]:
        try:
            return campaign_report(db, campaign_id)
        except CampaignError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = "".join(
            f"<tr><td>{c['id']}</td><td>{html.escape(c['name'])}</td><td>{c['status']}</td>"
            f"<td>{c['contacts']}</td><td><a href='/api/campaigns/{c['id']}/report'>report</a>"
            "</td></tr>" for c in list_campaigns(db))
        return ("<!doctype html><meta charset=utf-8><title>dialer</title>"
                "<h1>Campaigns</h1><table border=1 cellpadding=4><tr><th>id</th><th>name</th>"
                f"<th>status</th><th>contacts</th><th></th></tr>{rows}</table>"
                "<p>The marketing, agent and analyst pages arrive with the next issues.</p>")

    return app
