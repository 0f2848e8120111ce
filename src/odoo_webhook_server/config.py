"""Settings, from the environment or a `.env` file in the working directory."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        "postgresql:///odoo",
        description="libpq URI of the Odoo database (the primary, never a replica).",
    )
    odoo_url: str = Field("http://127.0.0.1:8069", description="Base URL of Odoo's web server.")
    odoo_db: str | None = Field(
        None, description="Odoo database name; sessions of other databases are refused."
    )
    session_cache_seconds: float = Field(
        30.0, ge=0, description="How long a validated Odoo session is trusted without asking."
    )
    odoo_timeout_seconds: float = Field(5.0, gt=0)
    pool_min_size: int = Field(2, ge=1)
    pool_max_size: int = Field(10, ge=1)
    pool_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a request waits for a database connection before 503."
    )
