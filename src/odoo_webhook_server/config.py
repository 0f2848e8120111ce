"""Settings, from the environment or a `.env` file in the working directory."""

from __future__ import annotations

import json
import os
from typing import Annotated, Literal

import psycopg
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        "postgresql:///odoo",
        description="libpq URI of the Odoo database (the primary, never a replica).",
    )
    odoo_url: str = Field("http://127.0.0.1:8069", description="Base URL of Odoo's web server.")
    odoo_db: str | None = Field(
        None,
        description="Odoo database name; sessions of other databases are refused. "
        "Default: the database named in DATABASE_URL.",
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
    log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object per log line, and one line per request."
    )
    max_body_bytes: int = Field(65536, ge=0, description="Larger request bodies get 413 (0: off).")
    rate_limit_pull_per_minute: int = Field(
        300, ge=0, description="Pulls a minute per session and per device (0: off)."
    )
    rate_limit_state_per_minute: int = Field(120, ge=0)
    rate_limit_reset_per_minute: int = Field(30, ge=0)
    rate_limit_other_per_minute: int = Field(
        300, ge=0, description="Any other /api/ route, per session and per device (0: off)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser (comma-separated).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _odoo_db_of_database_url(self) -> Settings:
        # Unset, a session of any database would pass: on an Odoo serving
        # several databases, uid 2 of a test copy would read production's feed.
        if not self.odoo_db:
            try:
                dbname = psycopg.conninfo.conninfo_to_dict(self.database_url).get("dbname")
            except psycopg.ProgrammingError:
                dbname = None  # the pool reports the bad URL
            self.odoo_db = str(dbname or os.environ.get("PGDATABASE") or "") or None
        return self
