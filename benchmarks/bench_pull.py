"""Pull benchmark: the real server over loopback HTTP, 10 thousand vs 1 million events.

    .venv/bin/python benchmarks/bench_pull.py [--events 1000000] [--states 10000]
        [--small-events 10000] [--duration 10] [--concurrency 16]

What it does (docs/BENCHMARKS.md explains how to read the output):

1. Starts a throwaway PostgreSQL (durable: fsync on, as in production), or uses
   `--database-url` (a superuser URI), creates two databases, SMALL and LARGE,
   runs `init_db` in each and fills them with set-based SQL: SMALL with
   `--small-events` events, LARGE with `--events`, each with `--states` device
   states; then VACUUM ANALYZE.
2. Starts the Odoo stand-in (FakeOdoo, in its own process) and the real server,
   `odoo-webhook-server serve`, once per database, each in its own process.
3. Drives pulls from a pool of load-generator processes (one keep-alive HTTP
   connection each, stdlib http.client) in three scenarios: 100-event pulls
   with manager_app (all models), empty pulls (devices at the head), 100-event
   pulls with sales_app (three models). Each scenario runs serially
   (concurrency 1: the cost of one pull) and at `--concurrency` (throughput).
   SMALL and LARGE are measured in the same run, in slices taken in ABBA order
   (`--rounds`), so that a noisy spell of the machine falls on both alike. It
   reports latency measured by the client and inside the server (its
   `Server-Timing: app;dur=` header), pulls per second, the CPU time spent per
   pull by the server, PostgreSQL and the load generator, and how many cores
   other processes of the machine used meanwhile.
4. Prints EXPLAIN (ANALYZE, BUFFERS) of the events query (the server's own SQL
   text) of 100-event pulls on LARGE, for all models and for some models.

The benchmark devices are taken from the filled device states: manager_app and
sales_app devices far enough behind the head to give `--pulls-per-device` full
100-event pulls each, and manager_app devices at the head. Their positions are
restored before every slice. Every pull is made by the admin session (uid 2:
an Odoo administrator may pull for any user) and sends back the previous
response's `next_sync_token`, as a well-behaved app does.

`--server-command` runs something else than `odoo-webhook-server serve` (a
prototype of a change, say) against the same data; `--pg-stat-statements`
prints what PostgreSQL spent its time on; `--workers` is passed to `serve`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.pool
import os
import platform
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from odoo_webhook_core.app_types import DEFAULT_APP_TYPES
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.storage.events import PAGES_SQL, PageWanted, pages_params
from odoo_webhook_server.storage.schema import init_db
from odoo_webhook_server.sync.cursor import Cursor
from odoo_webhook_server.sync.position import Position

Conn = psycopg.Connection[tuple[Any, ...]]

ODOO_DB = "odoo"
ADMIN_UID = 2
LIMIT = 100
SMALL_DB = "bench_pull_small"
LARGE_DB = "bench_pull_large"

# Tracked models: share of the event stream, how many records exist, the
# fields a write changes. sale.order + res.partner + product.template (the
# sales_app models) make 43% of the events.
MODELS: tuple[tuple[str, float, int, tuple[str, ...]], ...] = (
    ("sale.order", 0.18, 60_000, ("state", "order_line", "amount_total", "commitment_date")),
    ("res.partner", 0.17, 40_000, ("name", "phone", "email", "street", "city", "vat")),
    ("product.template", 0.08, 8_000, ("list_price", "name", "description_sale")),
    (
        "stock.picking",
        0.17,
        70_000,
        ("state", "scheduled_date", "move_ids", "carrier_tracking_ref"),
    ),
    ("account.move", 0.15, 80_000, ("state", "payment_state", "amount_residual", "invoice_date")),
    ("stock.move", 0.099, 200_000, ("state", "quantity", "location_dest_id")),
    ("product.pricelist", 0.001, 300, ("item_ids", "name")),  # a rarely changed model
    ("crm.lead", 0.07, 15_000, ("stage_id", "probability", "expected_revenue", "user_id")),
    ("project.task", 0.05, 20_000, ("stage_id", "user_ids", "date_deadline")),
    ("hr.expense", 0.03, 5_000, ("state", "total_amount", "payment_mode")),
)
SALES_MODELS = next(a.models for a in DEFAULT_APP_TYPES if a.code == "sales_app")
SALES_SHARE = sum(share for model, share, _, _ in MODELS if model in SALES_MODELS)
MEAN_EVENTS_PER_TX = 3.5  # 1 + floor(3 * Exp(1)), capped at 30: see _fill_events


# ---------------------------------------------------------------- filling


def _models_values() -> sql.Composed:
    rows = []
    low = 0.0
    for model, share, records, fields in MODELS:
        high = 1.0 if model == MODELS[-1][0] else low + share
        rows.append(
            sql.SQL("({}, {}::float8, {}::float8, {}::int, {}::text[])").format(
                sql.Literal(model),
                sql.Literal(low),
                sql.Literal(high),
                sql.Literal(records),
                sql.Literal(list(fields)),
            )
        )
        low = high
    return sql.SQL(", ").join(rows)


def _transactions_for(events: int) -> int:
    return math.ceil(events / MEAN_EVENTS_PER_TX * 1.1) + 100


def _burn_transaction_ids(url: str, count: int) -> int:
    """Consume `count` transaction ids; returns the first one. Events given
    txids in [first, first + count) are then all older than any snapshot's
    xmin: final, as in an Odoo database where they were written long ago."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        row = conn.execute("SELECT txid_current()").fetchone()
        assert row is not None
        conn.execute(
            sql.SQL(
                "DO $$ BEGIN FOR i IN 1..{} LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$"
            ).format(sql.Literal(count))
        )
        return int(row[0]) + 1


def _fill_events(conn: Conn, events: int, txid_base: int, seed: float) -> None:
    """`events` events in transactions of 1 to 30 events (mean 3.5), ids and
    txids increasing together, timestamps over the last 90 days."""
    transactions = _transactions_for(events)
    conn.execute("SELECT setseed(%s)", (seed,))
    conn.execute(
        sql.SQL(
            """
        INSERT INTO update_webhook
               (id, txid, model, record_id, event, "timestamp", user_id, changed_fields,
                is_archived, min_users_synced, create_uid, create_date, write_uid, write_date)
        WITH models (model, low, high, records, fields) AS (VALUES {models}),
        tx AS MATERIALIZED (
            SELECT t,
                   least(30, 1 + floor(-ln(1.0 - random()) * 3))::int AS size,
                   2 + floor(random() * 60)::int AS uid,
                   (now() AT TIME ZONE 'UTC') - interval '90 days'
                       + interval '90 days' * (t::float8 / {transactions}) AS ts
              FROM generate_series(0, {transactions} - 1) AS t
        ),
        ev AS MATERIALIZED (
            SELECT row_number() OVER (ORDER BY t, k) AS id, t, uid, ts,
                   random() AS r_model, random() AS r_kind, random() AS r_record,
                   random() AS r_field1, random() AS r_field2, random() AS r_nfields
              FROM tx CROSS JOIN LATERAL generate_series(1, tx.size) AS k
        ),
        picked AS (
            SELECT ev.*, m.model, m.records, m.fields, cardinality(m.fields) AS nf,
                   floor(ev.r_field1 * cardinality(m.fields))::int AS f1,
                   CASE WHEN ev.r_kind < 0.25 THEN 'create'
                        WHEN ev.r_kind < 0.92 THEN 'write'
                        ELSE 'unlink' END AS kind
              FROM ev JOIN models m ON ev.r_model >= m.low AND ev.r_model < m.high
             WHERE ev.id <= {events}
        )
        SELECT id, {txid_base} + t, model, 1 + floor(r_record * records)::int, kind,
               ts, uid,
               CASE WHEN kind = 'write' THEN
                    fields[1 + f1]
                    || CASE WHEN r_nfields < 0.4
                            THEN ',' || fields[1 + (f1 + 1 + floor(r_field2 * (nf - 1))::int) % nf]
                            ELSE '' END
               END,
               false, 0, uid, ts, uid, ts
          FROM picked
        """
        ).format(
            models=_models_values(),
            transactions=sql.Literal(transactions),
            events=sql.Literal(events),
            txid_base=sql.Literal(txid_base),
        )
    )
    conn.execute("SELECT setval(pg_get_serial_sequence('update_webhook', 'id'), %s)", (events,))


def _fill_states(conn: Conn, states: int, seed: float) -> None:
    """Device states of ~3,300 users (3 devices each): 45% sales_app, 35%
    delivery_app, 20% manager_app; 20% at the head, the others acknowledged
    somewhere in the stream, 10% of those with an unacknowledged batch issued."""
    conn.execute("SELECT setseed(%s)", (seed,))
    conn.execute(
        sql.SQL(
            """
        WITH head AS (SELECT max(id) AS n FROM update_webhook),
        d AS MATERIALIZED (
            SELECT s, random() AS r_app, random() AS r_position, random() AS r_head,
                   random() AS r_issued, random() AS r_gap, random() AS r_count,
                   random() AS r_active
              FROM generate_series(1, {states}) AS s
        ),
        p AS (
            SELECT d.*, head.n,
                   CASE WHEN r_app < 0.45 THEN 'sales_app'
                        WHEN r_app < 0.80 THEN 'delivery_app'
                        ELSE 'manager_app' END AS app_type,
                   CASE WHEN r_head < 0.2 THEN head.n
                        ELSE 1 + floor(r_position * (head.n - 1))::int END AS ack_id
              FROM d, head
        ),
        q AS (
            SELECT p.*,
                   CASE WHEN ack_id < n AND r_issued < 0.1
                        THEN least(n, ack_id + 1 + floor(r_gap * 100)::int)
                        ELSE ack_id END AS issued_id
              FROM p
        )
        INSERT INTO user_sync_state
               (user_id, device_id, app_type, models_filter, last_event_id, last_sync_time,
                sync_count, is_active, create_uid, create_date, write_uid, write_date,
                ack_txid, issued_txid, issued_event_id)
        SELECT 100 + (q.s - 1) / 3, 'device-' || substr(md5(q.s::text), 1, 16), q.app_type,
               NULL, q.ack_id, i."timestamp" + interval '1 minute',
               1 + floor(q.r_count * 5000)::int, q.r_active < 0.95,
               100 + (q.s - 1) / 3, a."timestamp" - interval '30 days',
               100 + (q.s - 1) / 3, i."timestamp" + interval '1 minute',
               a.txid, i.txid, q.issued_id
          FROM q
          JOIN update_webhook a ON a.id = q.ack_id
          JOIN update_webhook i ON i.id = q.issued_id
        """
        ).format(states=sql.Literal(states))
    )


@dataclass
class Database:
    label: str  # SMALL / LARGE
    name: str
    url: str
    events: int
    fill_seconds: float = 0.0
    size: str = ""
    server_url: str = ""
    server: subprocess.Popen[bytes] | None = None
    devices: dict[str, list[Device]] = field(default_factory=dict)


def _create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return pg_conninfo.make_conninfo(admin_url, dbname=name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _fill(db: Database, states: int, txid_base: int) -> None:
    started = time.perf_counter()
    init_db(db.url)
    with psycopg.connect(db.url) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '256MB'")
        _fill_events(conn, db.events, txid_base, 0.18)
        _fill_states(conn, states, 0.42)
        conn.commit()
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('update_webhook')),"
            " pg_size_pretty(pg_indexes_size('update_webhook'))"
        ).fetchone()
        assert row is not None
        db.size = f"update_webhook {row[0]} (indexes {row[1]})"
    db.fill_seconds = time.perf_counter() - started


# ------------------------------------------------------ benchmark devices


@dataclass(frozen=True)
class Device:
    state_id: int
    user_id: int
    device_id: str
    ack_txid: int
    ack_event_id: int
    issued_txid: int
    issued_event_id: int


def _select_devices(
    conn: Conn, app_type: str, *, at_head: bool, behind: int, limit: int
) -> list[Device]:
    """Devices of `app_type` at the head, or at least `behind` events behind it."""
    head = conn.execute("SELECT max(id) FROM update_webhook").fetchone()
    assert head is not None
    if at_head:
        where = "issued_event_id = %(head)s AND last_event_id = %(head)s"
    else:
        where = "issued_event_id BETWEEN 1 AND %(head)s - %(behind)s"
    rows = conn.execute(
        f"""SELECT id, user_id, device_id, ack_txid, last_event_id, issued_txid, issued_event_id
              FROM user_sync_state
             WHERE app_type = %(app_type)s AND models_filter IS NULL AND {where}
             ORDER BY md5(device_id) LIMIT %(limit)s""",
        {"app_type": app_type, "head": head[0], "behind": behind, "limit": limit},
    ).fetchall()
    return [Device(*row) for row in rows]


def _restore(conn: Conn, devices: Sequence[Device]) -> None:
    """Put the devices back where they were when the database was filled."""
    conn.execute(
        """
        UPDATE user_sync_state s
           SET ack_txid = v.ack_txid, last_event_id = v.ack_event_id,
               issued_txid = v.issued_txid, issued_event_id = v.issued_event_id,
               ack_position = NULL, issued_position = NULL
          FROM unnest(%s::int[], %s::int8[], %s::int[], %s::int8[], %s::int[])
               AS v (id, ack_txid, ack_event_id, issued_txid, issued_event_id)
         WHERE s.id = v.id
        """,
        (
            [d.state_id for d in devices],
            [d.ack_txid for d in devices],
            [d.ack_event_id for d in devices],
            [d.issued_txid for d in devices],
            [d.issued_event_id for d in devices],
        ),
    )


# ------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_fake_odoo(sid: str, conn: multiprocessing.connection.Connection) -> None:
    """Child process: the Odoo stand-in, with the admin session `sid`."""
    from odoo_webhook_server.demo.fake_odoo import FakeOdoo, FakeUser
    from odoo_webhook_server.demo.serving import serve_in_thread

    odoo = FakeOdoo(
        db=ODOO_DB,
        users=[
            FakeUser(ADMIN_UID, "admin", "admin", "Mitchell Admin", is_admin=True),
            FakeUser(6, "sales", "sales", "Marc Demo"),
            FakeUser(7, "driver", "driver", "Driver"),
        ],
    )
    odoo.sessions[sid] = ADMIN_UID
    odoo.login("sales")
    odoo.login("driver")
    with serve_in_thread(odoo.app()) as url:
        conn.send(url)
        conn.recv()  # until the parent says stop (or dies)


def _start_server(
    db: Database, odoo_url: str, workers: int, logdir: Path, command: str | None
) -> None:
    port = _free_port()
    env = dict(os.environ)
    # The benchmark pulls far faster than an app: no rate limit.
    env.update(
        DATABASE_URL=db.url, ODOO_URL=odoo_url, ODOO_DB=ODOO_DB, RATE_LIMIT_PULL_PER_MINUTE="0"
    )
    log = open(logdir / f"server-{db.label.lower()}.log", "wb")  # noqa: SIM115 (lives with the process)
    if command:
        argv = [part.format(port=port, workers=workers) for part in shlex.split(command)]
    else:
        argv = [sys.executable, "-m", "odoo_webhook_server", "serve"]
        argv += ["--port", str(port), "--workers", str(workers)]
    db.server = subprocess.Popen(
        argv,
        env=env,
        cwd=logdir,  # no stray .env is read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    db.server_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.server.poll() is not None:
            raise RuntimeError(f"server for {db.label} exited; see {log.name}")
        with contextlib.suppress(OSError):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            client.request("GET", "/")
            if client.getresponse().status == 200:
                client.close()
                return
        time.sleep(0.1)
    raise RuntimeError(f"server for {db.label} did not start; see {log.name}")


def _stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds), from /proc (empty elsewhere)."""
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS,
        )
    return table


def _tree_cpu(table: dict[int, tuple[int, float]], root: int | None) -> float | None:
    """CPU seconds of `root` and all its descendants (None when unknown)."""
    if root is None or root not in table:
        return None
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo += children.get(pid, [])
    return total


# ----------------------------------------------------------- load workers


@dataclass(frozen=True)
class Job:
    base_url: str
    session_id: str
    app_type: str
    devices: list[tuple[int, str]]  # (user_id, device_id)
    pulls_per_device: int  # 0: round-robin over the devices forever (empty pulls)
    start_at: float  # time.time() when the warm-up starts
    measure_from: float
    measure_until: float


@dataclass
class Samples:
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    full: int = 0  # pulls that took LIMIT raw events (has_more)
    errors: int = 0
    first_error: str = ""
    exhausted: int = 0  # workers that ran out of devices
    client_cpu: float = 0.0

    def add(self, other: Samples) -> None:
        self.client_ms += other.client_ms
        self.server_ms += other.server_ms
        self.events += other.events
        self.full += other.full
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.exhausted += other.exhausted
        self.client_cpu += other.client_cpu


def _server_ms(header: str | None) -> float:
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name == "app":
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    return float(value)
    return math.nan


def run_job(job: Job) -> Samples:
    """One load-generator process: pulls in a closed loop on one keep-alive
    connection (stdlib http.client: the lightest client, so that the server
    gets as much of the two cores as possible)."""
    host, _, port = job.base_url.removeprefix("http://").partition(":")
    client = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json", "X-Session-Id": job.session_id}
    tokens: dict[str, str] = {}
    samples = Samples()
    device, pulls_here = 0, 0
    time.sleep(max(0.0, job.start_at - time.time()))
    cpu_at_start: float | None = None
    while True:
        now = time.time()
        if now >= job.measure_until:
            break
        measuring = now >= job.measure_from
        if measuring and cpu_at_start is None:
            cpu_at_start = time.process_time()
        if job.pulls_per_device:
            if pulls_here >= job.pulls_per_device:
                device, pulls_here = device + 1, 0
            if device >= len(job.devices):
                samples.exhausted = 1
                break
        else:
            device = (device + 1) % len(job.devices)
        user_id, device_id = job.devices[device]
        body: dict[str, object] = {
            "user_id": user_id,
            "device_id": device_id,
            "app_type": job.app_type,
            "limit": LIMIT,
        }
        if device_id in tokens:
            body["sync_token"] = tokens[device_id]
        payload = json.dumps(body)
        started = time.perf_counter()
        try:
            client.request("POST", "/api/v2/sync/pull", payload, headers)
            response = client.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            client.close()
            client = http.client.HTTPConnection(host, int(port), timeout=60)
            samples.errors += 1
            samples.first_error = samples.first_error or repr(exc)
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status != 200:
            samples.errors += 1
            samples.first_error = samples.first_error or f"{response.status} {data[:300]!r}"
            pulls_here = job.pulls_per_device  # try the next device
            continue
        answer = json.loads(data)
        tokens[device_id] = answer["next_sync_token"]
        pulls_here += 1
        if job.pulls_per_device and not answer["has_more"]:
            pulls_here = job.pulls_per_device  # fewer than LIMIT left: next device
        if measuring:
            samples.client_ms.append(elapsed_ms)
            samples.server_ms.append(_server_ms(response.getheader("Server-Timing")))
            samples.events.append(int(answer["new_events_count"]))
            samples.full += bool(answer["has_more"])
    if cpu_at_start is not None:
        samples.client_cpu = time.process_time() - cpu_at_start
    client.close()
    return samples


# ------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    app_type: str
    pick: str  # which device list


SCENARIOS = (
    Scenario(
        "full", "100-event pulls, manager_app (all models), limit 100", "manager_app", "behind"
    ),
    Scenario("empty", "empty pulls, manager_app, devices at the head", "manager_app", "head"),
    Scenario(
        "sales",
        "100-event pulls, sales_app (sale.order, res.partner, product.template), limit 100",
        "sales_app",
        "sales_behind",
    ),
)


@dataclass
class Result:
    scenario: Scenario
    db: Database
    concurrency: int
    duration: float = 0.0
    samples: Samples = field(default_factory=Samples)
    server_cpu: float | None = 0.0
    pg_cpu: float | None = 0.0
    busy_cpu: float | None = 0.0  # CPU seconds of the whole machine

    def add_cpu(self, server: float | None, pg: float | None, busy: float | None) -> None:
        self.server_cpu = (
            None if server is None or self.server_cpu is None else self.server_cpu + server
        )
        self.pg_cpu = None if pg is None or self.pg_cpu is None else self.pg_cpu + pg
        self.busy_cpu = None if busy is None or self.busy_cpu is None else self.busy_cpu + busy


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _machine_busy() -> float | None:
    """CPU seconds the whole machine has spent not idle, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


def _measure_slice(
    pool: multiprocessing.pool.Pool,
    result: Result,
    seconds: float,
    args: argparse.Namespace,
    session_id: str,
    postmaster: int | None,
) -> None:
    """Run one slice of `seconds` on result.db and add it to `result`."""
    db, scenario, concurrency = result.db, result.scenario, result.concurrency
    devices = db.devices[scenario.pick]
    if scenario.pick != "head":
        with psycopg.connect(db.url, autocommit=True) as conn:
            _restore(conn, devices)
            conn.execute("VACUUM ANALYZE user_sync_state")
    pairs = [(d.user_id, d.device_id) for d in devices]
    start_at = time.time() + 0.2
    measure_from = start_at + args.warmup
    measure_until = measure_from + seconds
    jobs = [
        Job(
            base_url=db.server_url,
            session_id=session_id,
            app_type=scenario.app_type,
            devices=pairs[i::concurrency],
            pulls_per_device=0 if scenario.pick == "head" else args.pulls_per_device,
            start_at=start_at,
            measure_from=measure_from,
            measure_until=measure_until,
        )
        for i in range(concurrency)
    ]
    pending = pool.map_async(run_job, jobs, chunksize=1)
    server_pid = db.server.pid if db.server else None
    time.sleep(max(0.0, measure_from - time.time()))
    before, busy_before = _process_table(), _machine_busy()
    time.sleep(max(0.0, measure_until - time.time()))
    after, busy_after = _process_table(), _machine_busy()
    for part in pending.get():
        result.samples.add(part)

    def spent(root: int | None) -> float | None:
        end, begin = _tree_cpu(after, root), _tree_cpu(before, root)
        return None if end is None or begin is None else end - begin

    busy = None if busy_after is None or busy_before is None else busy_after - busy_before
    result.add_cpu(spent(server_pid), spent(postmaster), busy)
    result.duration += seconds


def _measure(
    pool: multiprocessing.pool.Pool,
    databases: list[Database],
    scenario: Scenario,
    concurrency: int,
    args: argparse.Namespace,
    session_id: str,
    postmaster: int | None,
) -> list[Result]:
    """`args.duration` seconds on each database, in `args.rounds` slices taken
    in ABBA order (SMALL, LARGE, LARGE, SMALL, ...) so that a slow spell of
    the machine falls on both sides alike."""
    results = [Result(scenario, db, concurrency) for db in databases]
    for round_number in range(args.rounds):
        order = results if round_number % 2 == 0 else results[::-1]
        for result in order:
            _measure_slice(pool, result, args.duration / args.rounds, args, session_id, postmaster)
    return results


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


_COLUMNS = (
    # (title line 1, title line 2, width)
    ("", "database", -18),
    ("", "conc", 5),
    ("pulls", "per s", 7),
    ("client", "p50 ms", 8),
    ("client", "p99 ms", 8),
    ("server", "p50 ms", 8),
    ("server", "p99 ms", 8),
    ("events", "/pull", 7),
    ("full", "pulls", 6),
    ("server", "CPU ms", 8),
    ("PG", "CPU ms", 8),
    ("load gen", "CPU ms", 9),
    ("other", "load", 12),
)


def _row(cells: Sequence[str]) -> str:
    return "".join(
        f"{cell:<{-width}}" if width < 0 else f"{cell:>{width}}"
        for cell, (_, _, width) in zip(cells, _COLUMNS, strict=False)
    ).rstrip()


def _result_row(r: Result) -> str:
    s = r.samples
    n = len(s.client_ms)

    def per_pull(cpu: float | None) -> str:
        ms = _ms_per_pull(cpu, n)
        return "n/a" if ms is None else f"{ms:.3f}"

    other = "n/a"
    if r.busy_cpu is not None and r.server_cpu is not None and r.pg_cpu is not None:
        ours = r.server_cpu + r.pg_cpu + s.client_cpu
        other = f"{max(0.0, r.busy_cpu - ours) / r.duration:.2f} cores"
    flags = ""
    if s.errors:
        flags += f"  !{s.errors} errors ({s.first_error})"
    if s.exhausted:
        flags += f"  !{s.exhausted} workers ran out of devices"
    return (
        _row(
            [
                f"{r.db.label} {r.db.events:,}",
                str(r.concurrency),
                f"{n / r.duration:.0f}",
                _ms(_percentile(s.client_ms, 0.5)),
                _ms(_percentile(s.client_ms, 0.99)),
                _ms(_percentile(s.server_ms, 0.5)),
                _ms(_percentile(s.server_ms, 0.99)),
                f"{sum(s.events) / n:.1f}" if n else "n/a",
                f"{s.full / n * 100:.0f}%" if n else "n/a",
                per_pull(r.server_cpu),
                per_pull(r.pg_cpu),
                per_pull(s.client_cpu),
                other,
            ]
        )
        + flags
    )


def _print_results(results: list[Result]) -> None:
    for scenario in SCENARIOS:
        rows = [r for r in results if r.scenario is scenario]
        if not rows:
            continue
        print(f"\n== {scenario.title}")
        print(_row([c[0] for c in _COLUMNS]))
        print(_row([c[1] for c in _COLUMNS]))
        for concurrency in sorted({r.concurrency for r in rows}):
            pair = [r for r in rows if r.concurrency == concurrency]
            for r in pair:
                print(_result_row(r))
            if len(pair) == 2:
                small, large = pair
                ratios = [
                    _percentile(large.samples.server_ms, q)
                    / _percentile(small.samples.server_ms, q)
                    for q in (0.5, 0.99)
                ]
                print(
                    _row(
                        ["  LARGE/SMALL", "", "", "", "", f"x{ratios[0]:.2f}", f"x{ratios[1]:.2f}"]
                    )
                )


def _ms_per_pull(cpu_seconds: float | None, pulls: int) -> float | None:
    return None if cpu_seconds is None or not pulls else cpu_seconds / pulls * 1000


def _cpu_per_pull(r: Result) -> tuple[float, float] | None:
    """Server and PostgreSQL CPU ms per pull of one measurement."""
    n = len(r.samples.client_ms)
    server, pg = _ms_per_pull(r.server_cpu, n), _ms_per_pull(r.pg_cpu, n)
    return None if server is None or pg is None else (server, pg)


def _print_server_vs_postgres(results: list[Result]) -> None:
    """Server CPU per pull against PostgreSQL's, and what a pull of 100
    events costs each of them beyond an empty one (full - empty, same
    database and concurrency): the server's excess is its per-request cost."""
    print("\n== server CPU per pull / PostgreSQL CPU per pull")
    for r in results:
        cost = _cpu_per_pull(r)
        if cost is not None and cost[1] > 0:
            print(
                f"  {r.scenario.key:<6} c={r.concurrency:<3} {r.db.label:<6}"
                f" {cost[0]:.3f} / {cost[1]:.3f} ms = x{cost[0] / cost[1]:.2f}"
            )
    for full in (r for r in results if r.scenario.key == "full"):
        empty = next(
            (
                r
                for r in results
                if r.scenario.key == "empty"
                and r.db is full.db
                and r.concurrency == full.concurrency
            ),
            None,
        )
        if empty is None:
            continue
        full_cost, empty_cost = _cpu_per_pull(full), _cpu_per_pull(empty)
        if full_cost is None or empty_cost is None:
            continue
        print(
            f"  c={full.concurrency:<3} {full.db.label:<6} an empty pull: server"
            f" {empty_cost[0]:.3f}, PostgreSQL {empty_cost[1]:.3f} ms; 100 events more: server"
            f" {full_cost[0] - empty_cost[0]:.3f}, PostgreSQL {full_cost[1] - empty_cost[1]:.3f} ms"
        )


def _position(conn: Conn, event_id: int) -> tuple[int, int]:
    row = conn.execute("SELECT txid, id FROM update_webhook WHERE id = %s", (event_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _explain(db: Database) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the events query as the engine runs it
    (the server's SQL text, limit + 1 rows, parameters bound by psycopg)."""
    rare = min(MODELS, key=lambda m: m[1])[0]
    with psycopg.connect(db.url, autocommit=True) as conn:
        behind = db.devices["behind"][0]
        sales = db.devices["sales_behind"][0]
        cases: list[tuple[str, tuple[int, int], list[str] | None]] = [
            (
                "all models (manager_app), a benchmark device",
                (behind.issued_txid, behind.issued_event_id),
                None,
            ),
            (
                "sales_app's models, a benchmark device",
                (sales.issued_txid, sales.issued_event_id),
                list(SALES_MODELS),
            ),
            (
                "sales_app's models, a device 5,000 events behind the head",
                _position(conn, db.events - 5000),
                list(SALES_MODELS),
            ),
            (
                f"models_filter [{rare}] (0.1% of the events), a device half-way",
                _position(conn, db.events // 2),
                [rare],
            ),
        ]
        for title, (txid, event_id), models in cases:
            position = Position.of_cursor(Cursor(txid, event_id))
            query = PAGES_SQL
            wanted = PageWanted(position, tuple(models) if models else None, LIMIT + 1)
            params = pages_params([wanted])
            print(
                f"\n== EXPLAIN (ANALYZE, BUFFERS) of the events query on {db.label}: {title};"
                f" after ({txid}, {event_id}), limit {LIMIT + 1}"
            )
            conn.execute(query, params).fetchall()  # warm, as a running server is
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
            for (line,) in rows:
                print("  " + str(line))


def _print_statements(db: Database) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT calls, total_exec_time, mean_exec_time, rows,
                   regexp_replace(query, '\\s+', ' ', 'g')
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query NOT ILIKE '%%pg_stat_statements%%'
             ORDER BY total_exec_time DESC LIMIT 12
            """
        ).fetchall()
    print(f"\n== pg_stat_statements on {db.label} (all runs), by total execution time")
    print(f"{'calls':>9}{'total ms':>11}{'mean ms':>9}{'rows':>10}  query")
    for calls, total, mean, nrows, query in rows:
        print(f"{calls:>9}{total:>11.0f}{mean:>9.3f}{nrows:>10}  {str(query)[:110]}")


# ------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Pull benchmark: the real server over loopback HTTP, SMALL vs LARGE."
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events in LARGE")
    parser.add_argument("--small-events", type=int, default=10_000, help="events in SMALL")
    parser.add_argument("--states", type=int, default=10_000, help="device states in each")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="slices per run, alternating SMALL and LARGE (ABBA)"
    )
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="seconds of warm-up before each slice"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="load processes")
    parser.add_argument(
        "--pulls-per-device",
        type=int,
        default=10,
        help="100-event pulls in a row on one device before taking the next",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--scenarios",
        default="full,empty,sales",
        help="comma-separated subset of: full, empty, sales",
    )
    parser.add_argument(
        "--database-url",
        help="a superuser URI of an existing PostgreSQL (default: a throwaway cluster)",
    )
    parser.add_argument(
        "--server-command",
        help="start this instead of `odoo-webhook-server serve` (to measure a change before"
        " making it); {port} and {workers} are replaced, DATABASE_URL etc. are in the env",
    )
    parser.add_argument(
        "--pg-stat-statements",
        action="store_true",
        help="load pg_stat_statements in the throwaway cluster and print the top statements",
    )
    return parser


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


@contextlib.contextmanager
def _postgres(args: argparse.Namespace) -> Iterator[tuple[str, int | None]]:
    """A superuser URI and the postmaster pid (None when not ours)."""
    if args.database_url:
        yield args.database_url, None
        return
    cluster = TemporaryPostgres(durable=True)
    url = cluster.start()
    try:
        if args.pg_stat_statements:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            cluster.kill()
            cluster.restart()
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        yield url, postmaster
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    wanted = {key.strip() for key in args.scenarios.split(",")}
    scenarios = [s for s in SCENARIOS if s.key in wanted]
    began = time.perf_counter()
    logdir = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    databases: list[Database] = []
    odoo_process: multiprocessing.process.BaseProcess | None = None
    context = multiprocessing.get_context("spawn")
    with _postgres(args) as (admin_url, postmaster):
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                pg_version = str(row[0]) if row else "?"
            print(
                f"bench_pull: {os.cpu_count()} CPUs ({_cpu_model()}), Python"
                f" {platform.python_version()}, PostgreSQL {pg_version}"
                f" ({'throwaway cluster, fsync on' if postmaster else 'given cluster'}),"
                f" server workers {args.workers}",
                flush=True,
            )
            txid_base = _burn_transaction_ids(
                admin_url, _transactions_for(max(args.events, args.small_events))
            )
            for label, name, events in (
                ("SMALL", SMALL_DB, args.small_events),
                ("LARGE", LARGE_DB, args.events),
            ):
                db = Database(label, name, _create_database(admin_url, name), events)
                databases.append(db)
                _fill(db, args.states, txid_base)
                print(
                    f"filled {label}: {events:,} events, {args.states:,} device states"
                    f" in {db.fill_seconds:.1f} s; {db.size}",
                    flush=True,
                )
                if args.pg_stat_statements:
                    with psycopg.connect(db.url, autocommit=True) as conn:
                        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                sales_behind = math.ceil((args.pulls_per_device + 1) * LIMIT / SALES_SHARE * 1.3)
                with psycopg.connect(db.url) as conn:
                    db.devices = {
                        "behind": _select_devices(
                            conn,
                            "manager_app",
                            at_head=False,
                            behind=(args.pulls_per_device + 1) * LIMIT + 100,
                            limit=5000,
                        ),
                        "head": _select_devices(
                            conn, "manager_app", at_head=True, behind=0, limit=5000
                        ),
                        "sales_behind": _select_devices(
                            conn, "sales_app", at_head=False, behind=sales_behind, limit=5000
                        ),
                    }
                for pick, devices in db.devices.items():
                    if len(devices) < args.concurrency:
                        raise SystemExit(
                            f"{label}: only {len(devices)} devices for {pick}; "
                            "raise --states or lower --pulls-per-device"
                        )
                print(
                    "  benchmark devices: "
                    + ", ".join(f"{pick} {len(d)}" for pick, d in db.devices.items()),
                    flush=True,
                )

            session_id = secrets.token_urlsafe(54)[:70]
            parent_end, child_end = context.Pipe()
            odoo_process = context.Process(
                target=_serve_fake_odoo, args=(session_id, child_end), daemon=True
            )
            odoo_process.start()
            odoo_url = str(parent_end.recv())
            for db in databases:
                _start_server(db, odoo_url, args.workers, logdir, args.server_command)
            print(f"servers up (logs in {logdir}); Odoo stand-in at {odoo_url}", flush=True)

            if args.pg_stat_statements:
                for db in databases:
                    with psycopg.connect(db.url, autocommit=True) as conn:
                        conn.execute("SELECT pg_stat_statements_reset()")

            results: list[Result] = []
            with context.Pool(args.concurrency) as pool:
                for scenario in scenarios:
                    for concurrency in (1, args.concurrency):
                        measured = _measure(
                            pool, databases, scenario, concurrency, args, session_id, postmaster
                        )
                        results += measured
                        print(
                            f"  measured {scenario.key:<6} c={concurrency:<3} "
                            + ", ".join(
                                f"{r.db.label} {len(r.samples.client_ms) / r.duration:.0f}"
                                for r in measured
                            )
                            + " pulls/s",
                            flush=True,
                        )
            print(
                f"\nEach run: {args.duration:g} s measured per database, in {args.rounds}"
                f" slices alternating SMALL and LARGE (ABBA), each after {args.warmup:g} s of"
                " warm-up. conc: concurrent clients (closed loop).\nclient: from sending the"
                " request to having read the answer; server: the server's own Server-Timing"
                " (app;dur), which includes waiting for the event loop and the connection pool."
                "\nevents/pull: events per answer after coalescing; full pulls: share of pulls"
                f" that took {LIMIT} raw events (has_more).\nCPU ms: CPU time per pull of the"
                " server process(es), of PostgreSQL and of the load generator;"
                " other load: cores that processes outside the benchmark used meanwhile."
            )
            _print_results(results)
            _print_server_vs_postgres(results)
            large = databases[-1]
            for pick in ("behind", "sales_behind"):
                with psycopg.connect(large.url, autocommit=True) as conn:
                    _restore(conn, large.devices[pick])
            _explain(large)
            if args.pg_stat_statements:
                for db in databases:
                    _print_statements(db)
            print(f"\ntotal time {time.perf_counter() - began:.0f} s")
        finally:
            for db in databases:
                _stop_process(db.server)
            if odoo_process is not None:
                parent_end.send("stop")
                odoo_process.join(timeout=10)
                if odoo_process.is_alive():
                    odoo_process.terminate()
            if args.database_url:
                for db in databases:
                    _drop_database(admin_url, db.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
