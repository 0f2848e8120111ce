"""The archiving rules, in one place for the addon's daily cron
(`webhook.archiver.auto_archive()`, on Odoo's psycopg2 cursor) and the
server's `odoo-webhook-server archive` command (psycopg 3).

- Rule 1: an event at least `archive_after_days` old is archived once every
  active device whose subscription covers its model has acknowledged it
  (`min_users_synced` records how many had; for a forced archive,
  how many had at least).
- Rule 2: an event at least `force_archive_after_days` old is archived
  whatever the devices did.
- Rule 3: an archived event at least `delete_after_days` old is deleted; the
  furthest deleted position per model is kept in update_webhook_purge so
  that a device behind it is told to resync rather than silently miss it.

A device is active unless a manager deactivated it or it has not synced for
`inactive_device_days`. Everything is set-based SQL in batches of
`batch_size` rows, walking indexes in order, so time grows with the work and
memory stays flat; each batch is its own transaction when `commit` is given,
and pulls and captures go on meanwhile (archiving only sets a flag, and
never touches an event a running transaction could still write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from .clock import utcnow

__all__ = [
    "POLICY_PARAMETERS",
    "ArchivePolicy",
    "CleanupResult",
    "DbCursor",
    "archive_stats",
    "cleanup_before",
    "covers",
    "delete_batches",
    "read_policy",
    "run_archiving",
]

log = logging.getLogger(__name__)


class DbCursor(Protocol):
    """What both psycopg2 (Odoo's cursor) and psycopg 3 cursors offer."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


@dataclass(frozen=True)
class ArchivePolicy:
    archive_after_days: int = 7
    force_archive_after_days: int = 30
    delete_after_days: int = 90
    inactive_device_days: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.archive_after_days <= self.force_archive_after_days:
            raise ValueError("need 0 < archive_after_days <= force_archive_after_days")
        if self.delete_after_days < self.force_archive_after_days:
            raise ValueError("need delete_after_days >= force_archive_after_days")
        if self.inactive_device_days <= 0:
            raise ValueError("need inactive_device_days > 0")


POLICY_PARAMETERS = {
    "archive_after_days": "custom_model_webhook.archive_after_days",
    "force_archive_after_days": "custom_model_webhook.force_archive_after_days",
    "delete_after_days": "custom_model_webhook.delete_after_days",
    "inactive_device_days": "custom_model_webhook.inactive_device_days",
}


def read_policy(cur: DbCursor) -> ArchivePolicy:
    """The thresholds set in Odoo (Webhooks -> Configuration -> Settings,
    stored in ir_config_parameter), defaults where unset or unreadable."""
    cur.execute(
        "SELECT key, value FROM ir_config_parameter WHERE key = ANY(%s)",
        (list(POLICY_PARAMETERS.values()),),
    )
    stored = dict(cur.fetchall())
    values: dict[str, int] = {}
    for name, key in POLICY_PARAMETERS.items():
        try:
            values[name] = int(stored[key])
        except (KeyError, TypeError, ValueError):
            continue
    try:
        return ArchivePolicy(**values)
    except ValueError:
        log.warning("inconsistent archiving thresholds %s; using the defaults", values)
        return ArchivePolicy()


# The devices that count, grouped by what they see: a handful of rows, each
# with the least acknowledged position of its group.
ACTIVE_DEVICE_GROUPS = """
    SELECT t.code AS app_type, t.all_models,
           COALESCE((SELECT array_agg(m.model) FROM webhook_app_type_model m
                      WHERE m.app_type_id = t.id), '{}') AS models,
           string_to_array(s.models_filter, ',') AS models_filter,
           count(*) AS devices,
           min(ARRAY[s.ack_txid, COALESCE(s.last_event_id, 0)::int8]) AS least_ack
      FROM user_sync_state s
      JOIN webhook_app_type t ON t.code = s.app_type AND t.active
     WHERE s.is_active AND s.last_sync_time >= %(inactive_before)s
     GROUP BY t.id, s.models_filter
"""


def covers(model: str) -> str:
    """SQL: device group `g` (a row of ACTIVE_DEVICE_GROUPS) sees `model`."""
    return (
        f"(g.all_models OR {model} = ANY(g.models))"
        f" AND (g.models_filter IS NULL OR {model} = ANY(g.models_filter))"
    )


# One batch of rules 1 and 2: the oldest unarchived events past the first
# threshold, each archived when forced, or when every covering device group
# has acknowledged it. Returns what it did and where the batch ended.
_ARCHIVE_BATCH = f"""
WITH batch AS (
    SELECT e.id, e.txid, e.model, e."timestamp"
      FROM update_webhook e
     WHERE e.is_archived IS NOT TRUE
       AND e."timestamp" <= %(synced_before)s
       AND (e."timestamp", e.id) > (%(after_ts)s, %(after_id)s)
     ORDER BY e."timestamp", e.id
     LIMIT %(batch_size)s
), groups AS ({ACTIVE_DEVICE_GROUPS}
), verdict AS (
    SELECT b.id,
           b."timestamp" <= %(forced_before)s AS forced,
           COALESCE(sum(g.devices) FILTER (WHERE ARRAY[b.txid, b.id::int8] <= g.least_ack), 0)
               AS acked_by,
           bool_and(ARRAY[b.txid, b.id::int8] <= g.least_ack) AS all_acked
      FROM batch b
      LEFT JOIN groups g ON {covers("b.model")}
     GROUP BY b.id, b."timestamp"
), archived AS (
    UPDATE update_webhook e
       SET is_archived = true, archive_date = %(now)s, write_date = %(now)s,
           min_users_synced = v.acked_by
      FROM verdict v
     WHERE e.id = v.id AND (v.forced OR v.all_acked IS NOT FALSE)
    RETURNING v.forced, v.all_acked IS NOT FALSE AS synced
)
SELECT (SELECT count(*) FROM archived WHERE synced),
       (SELECT count(*) FROM archived WHERE NOT synced),
       (SELECT count(*) FROM batch),
       (SELECT "timestamp" FROM batch ORDER BY "timestamp" DESC, id DESC LIMIT 1),
       (SELECT id FROM batch ORDER BY "timestamp" DESC, id DESC LIMIT 1)
"""

# One batch of rule 3, remembering the furthest deleted position per model.
DELETE_BATCH = """
WITH doomed AS (
    SELECT id FROM update_webhook
     WHERE {condition}
     ORDER BY "timestamp", id
     LIMIT %(batch_size)s
       FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM update_webhook e USING doomed d WHERE e.id = d.id
    RETURNING e.model, e.txid, e.id
), marks AS (
    INSERT INTO update_webhook_purge AS p (model, txid, event_id, purged_at)
    SELECT DISTINCT ON (model) model, txid, id, %(now)s
      FROM gone ORDER BY model, txid DESC, id DESC
    ON CONFLICT (model) DO UPDATE
       SET txid = EXCLUDED.txid, event_id = EXCLUDED.event_id, purged_at = EXCLUDED.purged_at
     WHERE (EXCLUDED.txid, EXCLUDED.event_id) > (p.txid, p.event_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM marks)
"""


def run_archiving(
    cur: DbCursor,
    policy: ArchivePolicy,
    *,
    now: datetime | None = None,
    batch_size: int = 5000,
    commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Apply the three rules; idempotent. `commit`, when given, is called
    after every batch (keeps transactions and locks short); `now` lets
    tests move time forward."""
    now = now or utcnow()
    started = time.monotonic()
    summary: dict[str, Any] = {
        "archived_synced": 0,
        "archived_forced": 0,
        "deleted": 0,
        "batches": 0,
    }
    params: dict[str, Any] = {
        "now": now,
        "batch_size": batch_size,
        "synced_before": now - timedelta(days=policy.archive_after_days),
        "forced_before": now - timedelta(days=policy.force_archive_after_days),
        "inactive_before": now - timedelta(days=policy.inactive_device_days),
        "after_ts": datetime(1970, 1, 1),
        "after_id": 0,
    }
    while True:
        cur.execute(_ARCHIVE_BATCH, params)
        synced, forced, seen, last_ts, last_id = cur.fetchone()
        summary["archived_synced"] += synced
        summary["archived_forced"] += forced
        summary["batches"] += 1
        if commit:
            commit()
        if seen < batch_size:
            break
        params["after_ts"], params["after_id"] = last_ts, last_id
    summary["deleted"] = delete_batches(
        cur,
        'is_archived AND "timestamp" <= %(deleted_before)s',
        {**params, "deleted_before": now - timedelta(days=policy.delete_after_days)},
        commit=commit,
    )
    summary["seconds"] = round(time.monotonic() - started, 3)
    summary["policy"] = asdict(policy)
    log.info("webhook archiving: %s", summary)
    return summary


def delete_batches(
    cur: DbCursor,
    condition: str,
    params: dict[str, Any],
    *,
    commit: Callable[[], None] | None = None,
) -> int:
    """Delete the events matching `condition` (SQL on update_webhook, with
    `params`, which must hold now and batch_size), oldest first, in batches,
    leaving purge marks; returns how many were deleted."""
    deleted = 0
    statement = DELETE_BATCH.format(condition=condition)
    while True:
        cur.execute(statement, params)
        count, _marks = cur.fetchone()
        deleted += int(count)
        if commit:
            commit()
        if count < params["batch_size"]:
            return deleted


# An event (of update_webhook) that an active device whose subscription
# covers its model has not acknowledged: the devices and positions of rule 1.
_UNACKNOWLEDGED = f"""EXISTS (
    SELECT 1 FROM ({ACTIVE_DEVICE_GROUPS}) AS g
     WHERE {covers("update_webhook.model")}
       AND ARRAY[update_webhook.txid, update_webhook.id::int8] > g.least_ack)"""

_BEFORE = 'update_webhook."timestamp" < %(before)s'

# Two WHERE clauses, so that the planner joins the device groups once (a
# semi-join) instead of aggregating them again for every event.
_KEPT = f"""
SELECT (SELECT count(*) FROM update_webhook WHERE {_BEFORE}),
       (SELECT count(*) FROM update_webhook WHERE {_BEFORE} AND {_UNACKNOWLEDGED})
"""


@dataclass(frozen=True)
class CleanupResult:
    deleted: int
    kept: int  # events before the limit still stored
    kept_unacknowledged: int  # of which an active device has not acknowledged


def cleanup_before(
    cur: DbCursor,
    before: datetime,
    policy: ArchivePolicy,
    *,
    force: bool = False,
    now: datetime | None = None,
    batch_size: int = 5000,
    commit: Callable[[], None] | None = None,
) -> CleanupResult:
    """v1's manual cleanup, made safe: delete events stamped before `before`
    except (unless `force`) those an active device has not acknowledged."""
    now = now or utcnow()
    params: dict[str, Any] = {
        "before": before,
        "now": now,
        "batch_size": batch_size,
        "inactive_before": now - timedelta(days=policy.inactive_device_days),
    }
    condition = _BEFORE if force else f"{_BEFORE} AND NOT {_UNACKNOWLEDGED}"
    deleted = delete_batches(cur, condition, params, commit=commit)
    cur.execute(_KEPT, params)
    kept, kept_unacknowledged = cur.fetchone()
    return CleanupResult(deleted, int(kept), int(kept_unacknowledged))


def archive_stats(cur: DbCursor, *, inactive_device_days: int = 30) -> dict[str, Any]:
    """The guide's statistics, plus what a manager needs to see archiving."""
    cur.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE is_archived)
          FROM update_webhook
        """
    )
    total, archived = cur.fetchone()
    cur.execute(
        f"SELECT COALESCE(sum(devices), 0) FROM ({ACTIVE_DEVICE_GROUPS}) AS g",
        {"inactive_before": utcnow() - timedelta(days=inactive_device_days)},
    )
    (active_devices,) = cur.fetchone()
    cur.execute("SELECT count(*) FROM user_sync_state")
    (all_devices,) = cur.fetchone()
    # Active as the archiving rules count them: the same devices hold events back.
    active_devices = int(active_devices)
    inactive_devices = int(all_devices) - active_devices
    return {
        "total_events": total,
        "active_events": total - archived,
        "archived_events": archived,
        "archive_percentage": round(100.0 * archived / total, 1) if total else 0.0,
        "active_devices": active_devices,
        "inactive_devices": inactive_devices,
    }
