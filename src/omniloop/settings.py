"""Runtime configuration, read from ``OMNILOOP_*`` environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNILOOP_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="Directory for embedded data files")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under home if unset")
    secret_key: str = "change-me-in-production"
    token_ttl_minutes: int = 8 * 60
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    display_timezone: str = "Asia/Shanghai"
    log_json: bool = True
    log_level: str = "INFO"
    web_dist: Path | None = None
    job_lease_seconds: int = 60
    worker_poll_seconds: float = 1.0
    import_max_mb: int = Field(default=200, ge=1, description="largest customer file accepted by the upload API")
    event_retention_days: int = Field(default=730, ge=1, description="days of behaviour events kept (store and Parquet)")
    export_retention_days: int = Field(default=7, ge=1, description="days an export file is kept for download")
    plan_doc_max_mb: int = Field(default=20, ge=1, description="largest plan document (.docx/.pdf/.xlsx) accepted")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'omniloop.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
