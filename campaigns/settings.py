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
    # Dry-runs at once on this server, all campaigns together: each starts a Redis, a
    # simulator and a worker with the ASR model (~1 GB and a core while it runs).
    max_dry_runs: int = Field(default=2, ge=1, le=20)
    # Largest call list one upload may be (MB): a bigger file is refused with 413 and
    # nothing of it is kept. Split big lists; each part can go to the same campaign.
    max_upload_mb: int = Field(default=50, ge=1, le=10_000)
    # Most data rows one call list may have; a longer list fails naming both numbers.
    max_list_rows: int = Field(default=1_000_000, ge=1)
    # Days an uploaded file is kept once its import has finished; then it is deleted
    # and its rejected rows stay in the database (campaigns/uploads.py).
    upload_retention_days: int = Field(default=90, ge=1)

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
