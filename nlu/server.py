"""A Rasa-compatible HTTP face for our models: `POST /model/parse` and `GET /status`,
so tools written against a Rasa server (and our own RasaHttpParser) can use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class ParseRequest(BaseModel):
    text: str
    message_id: str | None = None


def create_app(model: Any, model_dir: Path | str) -> FastAPI:
    app = FastAPI(title="dialer NLU (Rasa-compatible)")

    @app.post("/model/parse")
    def model_parse(request: ParseRequest) -> dict[str, Any]:
        return dict(model.parse(request.text))

    @app.get("/status")
    def status() -> dict[str, Any]:
        return {"model_file": str(model_dir), "model_id": Path(model_dir).name,
                "num_active_training_jobs": 0}

    return app
