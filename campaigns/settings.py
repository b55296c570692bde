"""Settings of the business side: where data lives and how numbers are read."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CampaignSettings(BaseSettings):
    """Read once at the edge (CLI, worker, web app) and passed down."""

    model_config = SettingsConfigDict(env_prefix="DIALER_", extra="ignore")

    # Root for the SQLite file, uploads, recordings and reports on embedded defaults.
    data_dir: Path = Field(default=Path("var"))
    # Any SQLAlchemy URL; PostgreSQL at scale. Empty means a SQLite file in data_dir.
    database_url: str = ""
    # Region used to read numbers written without a country code (ISO 3166 alpha-2).
    default_region: str = "KR"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dialer.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
