"""Time as Odoo stores it: naive datetimes in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
