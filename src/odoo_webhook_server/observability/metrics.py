"""Prometheus metrics, served at /metrics.

One process: the metrics live in prometheus-client's default registry.
Several worker processes (`serve --workers N`): prometheus-client's
multiprocess mode, switched on by the environment variable
PROMETHEUS_MULTIPROC_DIR (which `serve` sets up by itself for N > 1): each
process writes its values to files in that directory, and whichever worker
answers /metrics adds up every process's files, so the counts are those of
the whole server. Gauges use "livesum" (the processes alive now).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

__all__ = [
    "ARCHIVER_ROWS",
    "ARCHIVER_RUNS",
    "EVENTS_DELIVERED",
    "LONG_POLLS_WAITING",
    "POOL_CONNECTIONS",
    "PULLS",
    "PULL_BATCHES",
    "REQUESTS",
    "REQUEST_SECONDS",
    "SESSION_CACHE",
    "SHARED_READS",
    "labelled",
    "mark_process_dead",
    "multiprocess_dir",
    "record_archiving",
    "render",
    "update_pool",
]

REQUESTS = Counter(
    "odoo_sync_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "odoo_sync_http_request_duration_seconds",
    "Time to answer an HTTP request (long polls included), by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
PULLS = Counter("odoo_sync_pulls", "Pulls answered (/api/v2/sync/pull), by app type.", ["app_type"])
EVENTS_DELIVERED = Counter(
    "odoo_sync_events_delivered",
    "Events sent to devices in pull answers, by app type.",
    ["app_type"],
)
LONG_POLLS_WAITING = Gauge(
    "odoo_sync_long_polls_waiting",
    "Pulls waiting for a change right now (long polls).",
    multiprocess_mode="livesum",
)
SHARED_READS = Counter(
    "odoo_sync_shared_reads",
    "Long polls woken by commits and read together: batches (one per wake-up), "
    "queries (groups read: one per subscription and position, all of a batch in "
    "one statement), pulls (woken "
    "pulls read), served (those that got events).",
    ["what"],
)
PULL_BATCHES = Counter(
    "odoo_sync_pull_batches",
    "Pulls that arrived together and were read as one: batches, pulls (in "
    "them), alone (those that had to be read on their own: first pull of a "
    "device, an error to report, a state written meanwhile), quiet (those served "
    "without reading events: nothing announced for their models since their last "
    "read), at_rest (long polls that waited without reading or writing their state: "
    "from where this process left it, acknowledged with their answer).",
    ["what"],
)
POOL_CONNECTIONS = Gauge(
    "odoo_sync_db_pool_connections",
    "PostgreSQL pool: open connections (size), idle ones (available), the pool's "
    "maximum (max) and requests waiting for one (waiting).",
    ["state"],
    multiprocess_mode="livesum",
)
SESSION_CACHE = Counter(
    "odoo_sync_session_cache",
    "Odoo session validations: answered from the cache (hit) or by asking Odoo (miss).",
    ["result"],
)
ARCHIVER_RUNS = Counter(
    "odoo_sync_archiver_runs", "Archiving runs done by this server's `archive` command."
)
ARCHIVER_ROWS = Counter(
    "odoo_sync_archiver_rows",
    "Events archived (archived_synced, archived_forced) or deleted by the archiving runs.",
    ["action"],
)

Metric = TypeVar("Metric", Counter, Gauge, Histogram)
_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def labelled(metric: Metric, *values: str) -> Metric:
    """`metric.labels(*values)`, looked up once per label set: labels() takes
    a lock and checks its values on every call, and every request counts
    itself several times. For labels of bounded values only."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


_POOL_STATS = {"size": "pool_size", "available": "pool_available", "max": "pool_max"}


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def update_pool(stats: Mapping[str, int]) -> None:
    """Copy psycopg_pool's `get_stats()` into the pool gauges."""
    for state, key in _POOL_STATS.items():
        POOL_CONNECTIONS.labels(state).set(stats.get(key, 0))
    POOL_CONNECTIONS.labels("waiting").set(stats.get("requests_waiting", 0))


def record_archiving(summary: Mapping[str, Any]) -> None:
    """Count one archiving run (odoo_webhook_core.archiving.run_archiving's summary)."""
    ARCHIVER_RUNS.inc()
    for action in ("archived_synced", "archived_forced", "deleted"):
        ARCHIVER_ROWS.labels(action).inc(int(summary.get(action, 0)))


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int | None = None) -> None:
    """Drop a stopped worker's live gauges (multiprocess mode only)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


if multiprocess_dir():
    atexit.register(mark_process_dead)
