"""Settings, from the environment or a `.env` file in the working directory."""

from __future__ import annotations

import os

import psycopg
from pydantic import Field, model_validator
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
