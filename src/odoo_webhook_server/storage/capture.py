"""Writing events: the one multi-row INSERT used by the addon's capture (on
Odoo's psycopg2 cursor) and by the demo's simulated Odoo (psycopg 3); both
drivers take DB-API ``%s`` parameters.

After commit, writers send one ``NOTIFY`` on `NOTIFY_CHANNEL` per transaction
so that long-polling readers wake up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["NOTIFY_CHANNEL", "CapturedChange", "insert_events_sql"]

NOTIFY_CHANNEL = "custom_model_webhook_event"


@dataclass(frozen=True)
class CapturedChange:
    model: str
    record_id: int
    event: str  # create | write | unlink
    changed_fields: tuple[str, ...] = ()


def insert_events_sql(
    changes: Sequence[CapturedChange], *, user_id: int | None, now: datetime
) -> tuple[str, list[object]]:
    """One INSERT for all `changes`; txid comes from the column default."""
    row = "(%s, %s, %s, %s, %s, %s, false, 0, %s, %s, %s, %s)"
    params: list[object] = []
    for change in changes:
        params += [
            change.model,
            change.record_id,
            change.event,
            now,
            user_id,
            ",".join(change.changed_fields) or None,
            user_id,
            now,
            user_id,
            now,
        ]
    sql = (
        'INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,'
        " changed_fields, is_archived, min_users_synced, create_uid, create_date,"
        " write_uid, write_date) VALUES " + ", ".join([row] * len(changes))
    )
    return sql, params
