"""Live-sync load benchmark: thousands of long-polling devices, commits at given rates.

    .venv/bin/python benchmarks/bench_live.py [--devices 10000] [--phase-seconds 60]
        [--models 100] [--wait 30] [--client-processes 4] [--workers 1]

A quick run: `--devices 2000 --phase-seconds 20`. The full size takes about
ten minutes (ramp-up of at least `--wait`, six phases, drain).

What it does:

1. Starts a throwaway PostgreSQL cluster (durable: fsync on, as in
   production), creates the benchmark database with `init_db` and a second,
   bare database in the same cluster (the "other" database below).
2. Starts the Odoo stand-in (FakeOdoo, in its own process) with one admin
   session (uid 2: an administrator may pull for any user) and the real
   server, `python -m odoo_webhook_server serve --workers N`, in its own
   process (POOL_MAX_SIZE from the environment, default 10; no rate limit).
3. Ramp-up: `--devices` devices, spread over `--client-processes` asyncio
   load-generator processes, connect at `--ramp-rate` devices a second, each
   on its own keep-alive HTTP/1.1 connection over loopback (first pulls
   spread over at least one `--wait`, so that their waits end spread out
   too, as for devices that came online at random), and loop
   { pull with wait=`--wait`, limit 100, the previous next_sync_token }. The
   ramp-up ends when the server's gauge `odoo_sync_long_polls_waiting` counts
   (nearly) all of them waiting.
4. A writer process commits transactions of one event each, of a random
   benchmark model, with `insert_events_sql` (the capture's INSERT: every
   commit fires the server's NOTIFY through update_webhook's trigger), at a
   fixed rate (open loop), through these phases of `--phase-seconds` each:

   quiet              no writes: the idle cost of the waiting devices
   1 tx/s, 10 tx/s, 50 tx/s
   long tx same db    10 tx/s while another connection holds a transaction
                      open in the benchmark database for the whole phase; it
                      wrote one event (BEGIN; INSERT; SELECT txid_current();
                      sleep; COMMIT just before the phase ends), which must
                      arrive when it commits, and the others at once
   long tx other db   10 tx/s while a transaction (txid_current()) is held
                      open in the other database of the cluster

   After the last phase, a drain for late answers: at least `--drain`
   seconds, then until every device waits again (at most `--drain-max`; a
   device still backing off after errors has answers due).
   A phase that saturates the machine leaves a backlog to the next one:
   read the phases in order.

Subscriptions. The bare database has no Odoo tables, so the server applies
no access rights and app type manager_app takes any models_filter. Each
device subscribes (models_filter) to 1-3 of `--models` benchmark models
x_bench.model_<k>, so that a commit of one model concerns 1-3 % of the
devices (about 2 % on average: 200 devices of 10,000), as when each user's
app follows a few of many models. Were every device subscribed to every
model, each commit would mean 10,000 answers and 10,000 new pulls, which
measures a broadcast, not live sync.

The client is written on raw asyncio streams (uvloop when installed): a
hand-made HTTP/1.1 request, the answer read by Content-Length, JSON parsed
with the standard library, no per-request logging. httpx.AsyncClient
(`--client httpx`, one client per process) was measured at 1,000 devices
and 10 tx/s: 1.35 cores of load generator for about 90 answers a second,
against 0.07 cores for about 200 with the raw client, CPU that a two-core
machine would take from the server being measured. Every record id
is written once, so events are never coalesced and each one names its
commit: for each event received the client keeps (device, record id,
receive time), the writer (record id, model, time.time() right after COMMIT
returned); the two clocks are the same machine's wall clock.

How to read the table (one column per phase):

- commits: transactions committed in the phase; deliveries expected: the
  devices subscribed to their models, summed; delivered: distinct (device,
  event) received; missed: expected but not received by the end of the
  drain (an error).
- latency: from the writer's COMMIT returning to the device having read the
  answer that carried the event (p50/p95/p99/max, first receipts only). It
  can be slightly negative: the server may answer before the writer's
  clock is read.
- requests/device/h: HTTP answers per device and hour; in the quiet phase,
  with --wait 30, about 120 is the floor.
- CPU: of the server process(es) including children, of PostgreSQL (the
  postmaster and every backend, ended ones too), of the load generator and
  the writer, from /proc/<pid>/stat (utime+stime+cutime+cstime); per commit,
  and in cores (CPU seconds / phase seconds). "server CPU ms/device/h" in
  the quiet phase is the idle cost of one waiting device. "other load": busy
  cores of the machine (/proc/stat) not spent by the benchmark's process
  tree (which includes PostgreSQL, FakeOdoo and the benchmark itself).
- server RSS: summed over the server's processes, the phase's maximum.
- PG connections: pg_stat_activity sampled every second, client backends
  of the cluster (incl. the sampler and the writer) and the server's own
  (application_name odoo-webhook-server), the phase's maximum.
- errors: non-200 answers (by status and reason: "HTTP 503 busy" is the
  server's pool timeout), exceptions (connection lost, bad answer),
  timeouts (no answer within wait + 30 s), missed and unexpected events
  (an event for a device not subscribed to its model, or never committed);
  errors during the ramp-up are listed at the end. After a failure a device
  retries after 1, 2, 4 ... 30 s (+-50 %), as a well-behaved app backs off.

It exits 0 whatever the latencies: it measures, it does not judge.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import platform
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from bench_pull import _create_database, _free_port, _stop_process
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.storage.schema import init_db

ODOO_DB = "odoo"
ADMIN_UID = 2
LIMIT = 100
APP_TYPE = "manager_app"
BENCH_DB = "bench_live"
OTHER_DB = "bench_live_other"
PULL_PATH = "/api/v2/sync/pull"
TIMEOUT_MARGIN = 30.0  # a pull may take wait + this before it counts as timed out
KEEP_ALIVE = 4.0  # seconds a connection may stay idle before it is opened again
MAX_BACKOFF = 30.0  # after failures in a row, a device retries after 1, 2, 4 ... this, +-50 %

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _model_name(k: int) -> str:
    return f"x_bench.model_{k}"


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float  # transactions a second
    hold: str = ""  # "", "same" or "other": a long transaction held open meanwhile
    start: float = 0.0  # time.time()
    end: float = 0.0


PHASES: tuple[Phase, ...] = (
    Phase("quiet", 0),
    Phase("1 tx/s", 1),
    Phase("10 tx/s", 10),
    Phase("50 tx/s", 50),
    Phase("10/s+long same", 10, "same"),
    Phase("10/s+long other", 10, "other"),
)


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------- /proc


def _process_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds incl. waited-for children, RSS bytes)."""
    table: dict[int, tuple[int, float, int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        table[int(entry.name)] = (
            int(fields[1]),
            ticks / _CLOCK_TICKS,
            int(fields[21]) * _PAGE_SIZE,
        )
    return table


def _tree(table: dict[int, tuple[int, float, int]], roots: Sequence[int]) -> tuple[float, int]:
    """CPU seconds and RSS bytes of `roots` and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    cpu, rss = 0.0, 0
    todo = [root for root in roots if root in table]
    while todo:
        pid = todo.pop()
        cpu += table[pid][1]
        rss += table[pid][2]
        todo += children.get(pid, [])
    return cpu, rss


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


@dataclass
class Snapshot:
    at: float
    server: float
    postgres: float
    clients: float
    writer: float
    busy: float
    ours: float  # this process and all its descendants (PostgreSQL and FakeOdoo too)


# ----------------------------------------------------------- the client


@dataclass
class ClientJob:
    host: str
    port: int
    session_id: str
    devices: list[tuple[int, str, list[str]]]  # (index, device_id, models_filter)
    start_times: list[float]  # time.time() at which each device connects
    wait: float
    kind: str  # raw | httpx


@dataclass
class ClientResult:
    device: bytes = b""  # array('i'): device index of each event received
    record: bytes = b""  # array('q'): its record id
    received: bytes = b""  # array('d'): time.time() when its answer was read
    answers: bytes = b""  # array('d'): time.time() of each 200 answer
    errors: list[tuple[float, str]] = field(default_factory=list)  # (time, kind)
    first_errors: list[str] = field(default_factory=list)


class _Recorder:
    def __init__(self) -> None:
        self.device = array.array("i")
        self.record = array.array("q")
        self.received = array.array("d")
        self.answers = array.array("d")
        self.errors: list[tuple[float, str]] = []
        self.first_errors: list[str] = []
        self.kinds_seen: set[str] = set()

    def error(self, kind: str, detail: str) -> None:
        self.errors.append((time.time(), kind))
        if kind not in self.kinds_seen:  # the first example of each kind
            self.kinds_seen.add(kind)
            self.first_errors.append(f"{kind}: {detail}"[:300])

    def result(self) -> ClientResult:
        return ClientResult(
            self.device.tobytes(),
            self.record.tobytes(),
            self.received.tobytes(),
            self.answers.tobytes(),
            self.errors,
            self.first_errors,
        )


class _RawConnection:
    """One keep-alive HTTP/1.1 connection, requests written by hand."""

    def __init__(self, host: str, port: int, session_id: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST {PULL_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"X-Session-Id: {session_id}\r\nContent-Type: application/json\r\n"
            "Content-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0  # time.monotonic() of the last answer

    async def post(self, body: bytes) -> tuple[int, bytes]:
        # A connection idle longer than the server's keep-alive (uvicorn: 5 s),
        # after a backoff, is closed at the other end: reconnect first, and
        # once more when a reused connection turns out closed, as HTTP
        # libraries do; neither counts as an error.
        if self.writer is not None and time.monotonic() - self.used > KEEP_ALIVE:
            self.close()
        for attempt in (1, 2):
            fresh = self.writer is None
            try:
                return await self._post(body)
            except asyncio.IncompleteReadError as exc:
                if fresh or exc.partial or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
            status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise ValueError("answer without content-length")
            length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
            data = await self.reader.readexactly(length)
            self.used = time.monotonic()
            if b"\r\nconnection: close" in head:
                self.close()
            return status, data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _device(
    job: ClientJob,
    index: int,
    device_id: str,
    models: list[str],
    start_at: float,
    rec: _Recorder,
    httpx_client: Any,
) -> None:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    conn = _RawConnection(job.host, job.port, job.session_id) if httpx_client is None else None
    headers = {"X-Session-Id": job.session_id, "Content-Type": "application/json"}
    request: dict[str, Any] = {
        "user_id": ADMIN_UID,
        "device_id": device_id,
        "app_type": APP_TYPE,
        "limit": LIMIT,
        "models_filter": models,
        "wait": job.wait,
    }
    timeout = job.wait + TIMEOUT_MARGIN
    device, record, received = rec.device, rec.record, rec.received
    failures = 0  # in a row: the retry backs off
    while True:
        if failures:
            await asyncio.sleep(min(MAX_BACKOFF, 2.0 ** (failures - 1)) * random.uniform(0.5, 1.5))
        body = json.dumps(request).encode()
        try:
            async with asyncio.timeout(timeout):
                if conn is not None:
                    status, data = await conn.post(body)
                else:
                    response = await httpx_client.post(PULL_PATH, content=body, headers=headers)
                    status, data = response.status_code, response.content
        except TimeoutError:
            rec.error("timeout", f"{device_id}: no answer in {timeout:g} s")
            failures += 1
            continue
        except Exception as exc:  # connection lost, bad answer, httpx's own errors
            rec.error("exception", f"{device_id}: {exc!r}")
            failures += 1
            continue
        now = time.time()
        if status != 200:
            rec.error(_status_kind(status, data), f"{device_id}: HTTP {status} {data[:200]!r}")
            failures += 1
            continue
        failures = 0
        rec.answers.append(now)
        answer = json.loads(data)
        request["sync_token"] = answer["next_sync_token"]
        for event in answer["events"]:
            device.append(index)
            record.append(event["record_id"])
            received.append(now)


def _status_kind(status: int, data: bytes) -> str:
    """`HTTP 503 busy`: the status and the error's reason (or code)."""
    detail = ""
    with contextlib.suppress(ValueError, AttributeError):
        answer = json.loads(data)
        detail = str(answer.get("reason") or answer.get("code") or "")
    return f"HTTP {status} {detail}".strip()


async def _run_client(job: ClientJob, stop: multiprocessing.connection.Connection) -> ClientResult:
    rec = _Recorder()
    httpx_client: Any = None
    if job.kind == "httpx":
        import httpx

        limits = httpx.Limits(
            max_connections=len(job.devices) + 10, max_keepalive_connections=len(job.devices) + 10
        )
        httpx_client = httpx.AsyncClient(
            base_url=f"http://{job.host}:{job.port}", limits=limits, timeout=None
        )
    tasks = [
        asyncio.create_task(_device(job, index, device_id, models, start_at, rec, httpx_client))
        for (index, device_id, models), start_at in zip(job.devices, job.start_times, strict=True)
    ]
    await asyncio.to_thread(stop.recv)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if httpx_client is not None:
        await httpx_client.aclose()
    return rec.result()


def client_main(job: ClientJob, conn: multiprocessing.connection.Connection) -> None:
    """A load-generator process: its devices until the parent says stop."""
    _raise_nofile()
    try:
        import uvloop

        result = uvloop.run(_run_client(job, conn))
    except ImportError:
        result = asyncio.run(_run_client(job, conn))
    conn.send(result)


# ----------------------------------------------------------- the writer


@dataclass
class WriterResult:
    commits: list[tuple[int, int, float, int]] = field(default_factory=list)
    # (record id, model index, time.time() after COMMIT, phase index)
    behind: float = 0.0  # worst lateness of a commit against its schedule, seconds
    errors: list[str] = field(default_factory=list)


def _hold(
    url: str,
    phase: Phase,
    index: int,
    write: tuple[int, int] | None,
    result: WriterResult,
    lock: threading.Lock,
) -> None:
    """A long transaction from the phase's start to just before its end."""
    try:
        with psycopg.connect(url) as conn:
            if write is not None:
                record, model = write
                query, params = insert_events_sql(
                    [CapturedChange(_model_name(model), record, "write", ("name",))],
                    user_id=ADMIN_UID,
                    now=utcnow(),
                )
                conn.execute(query, params)
            conn.execute("SELECT txid_current()")
            time.sleep(max(0.0, phase.end - 1.0 - time.time()))
            conn.commit()
            committed = time.time()
        if write is not None:
            with lock:
                result.commits.append((write[0], write[1], committed, index))
    except Exception as exc:
        result.errors.append(f"long transaction ({phase.name}): {exc!r}")


def writer_main(
    url: str,
    other_url: str,
    phases: list[Phase],
    models: int,
    seed: int,
    conn: multiprocessing.connection.Connection,
) -> None:
    """The writer process: one-event transactions at each phase's rate."""
    rng = random.Random(seed)
    records = itertools.count(1)
    result = WriterResult()
    lock = threading.Lock()
    holders: list[threading.Thread] = []
    with psycopg.connect(url) as db:
        for index, phase in enumerate(phases):
            time.sleep(max(0.0, phase.start - time.time()))
            if phase.hold:
                write = (next(records), rng.randrange(models)) if phase.hold == "same" else None
                target = url if phase.hold == "same" else other_url
                holder = threading.Thread(
                    target=_hold, args=(target, phase, index, write, result, lock)
                )
                holder.start()
                holders.append(holder)
            if not phase.rate:
                continue
            count = int((phase.end - phase.start) * phase.rate)
            for i in range(count):
                due = phase.start + (i + 0.5) / phase.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                else:
                    result.behind = max(result.behind, -delay)
                record, model = next(records), rng.randrange(models)
                query, params = insert_events_sql(
                    [CapturedChange(_model_name(model), record, "write", ("name",))],
                    user_id=ADMIN_UID,
                    now=utcnow(),
                )
                try:
                    db.execute(query, params)
                    db.commit()
                except psycopg.Error as exc:
                    db.rollback()
                    result.errors.append(repr(exc))
                    continue
                committed = time.time()
                with lock:
                    result.commits.append((record, model, committed, index))
    for holder in holders:
        holder.join()
    conn.send(result)


# ------------------------------------------------------------- the parent


def _serve_fake_odoo(sid: str, conn: multiprocessing.connection.Connection) -> None:
    """Child process: the Odoo stand-in, with the admin session `sid`."""
    from odoo_webhook_server.demo.fake_odoo import FakeOdoo, FakeUser
    from odoo_webhook_server.demo.serving import serve_in_thread

    odoo = FakeOdoo(
        db=ODOO_DB, users=[FakeUser(ADMIN_UID, "admin", "admin", "Mitchell Admin", is_admin=True)]
    )
    odoo.sessions[sid] = ADMIN_UID
    with serve_in_thread(odoo.app()) as url:
        conn.send(url)
        conn.recv()  # until the parent says stop (or dies)


def _start_server(
    url: str, odoo_url: str, workers: int, logdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        ODOO_URL=odoo_url,
        ODOO_DB=ODOO_DB,
        RATE_LIMIT_PULL_PER_MINUTE="0",
        LOG_LEVEL=env.get("LOG_LEVEL", "WARNING"),
    )
    env.setdefault("POOL_MAX_SIZE", "10")
    log = open(logdir / "server.log", "wb")  # noqa: SIM115 (lives with the process)
    argv = [sys.executable, "-m", "odoo_webhook_server", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(argv, env=env, cwd=logdir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited; see {log.name}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer,
        ):
            if answer.status == 200:
                return process, port
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start; see {log.name}")


def _waiting_pulls(port: int) -> int | None:
    """The server's gauge of waiting long polls (None when it has none)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith("odoo_sync_long_polls_waiting"):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return int(total) if seen else None


def _states(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM user_sync_state").fetchone()
    return int(row[0]) if row else 0


class _Sampler(threading.Thread):
    """Every second: PostgreSQL connections and the server's RSS."""

    def __init__(self, admin_url: str, server_pid: int) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.server_pid = admin_url, server_pid
        self.samples: list[tuple[float, int, int, int]] = []  # (time, all, server's, rss)
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),"
                    " count(*) FILTER (WHERE application_name = 'odoo-webhook-server')"
                    " FROM pg_stat_activity"
                ).fetchone()
                assert row is not None
                _, rss = _tree(_process_table(), [self.server_pid])
                self.samples.append((time.time(), int(row[0]), int(row[1]), rss))
                self.stop.wait(1.0)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Live-sync load benchmark (long polls).")
    parser.add_argument("--devices", type=int, default=10_000, help="long-polling devices")
    parser.add_argument("--phase-seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--models", type=int, default=100, help="benchmark models")
    parser.add_argument("--wait", type=float, default=30.0, help="the pulls' wait, seconds")
    parser.add_argument("--client-processes", type=int, default=4, help="load processes")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--ramp-rate",
        type=float,
        default=500.0,
        help="most devices connecting a second at ramp-up (which lasts at least --wait)",
    )
    parser.add_argument(
        "--drain", type=float, default=5.0, help="least seconds after the last phase"
    )
    parser.add_argument(
        "--drain-max",
        type=float,
        default=180.0,
        help="most seconds after the last phase, waiting for every device to wait again",
    )
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="HTTP client of the devices"
    )
    parser.add_argument(
        "--phases",
        default=",".join(str(i) for i in range(1, len(PHASES) + 1)),
        help="comma-separated phase numbers to run, 1-6 (default all): "
        + ", ".join(f"{i} {p.name}" for i, p in enumerate(PHASES, 1)),
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser


def _subscriptions(devices: int, models: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [rng.sample(range(models), rng.randint(1, min(3, models))) for _ in range(devices)]


@dataclass
class PhaseReport:
    phase: Phase
    commits: int = 0
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    unexpected: int = 0
    latencies: list[float] = field(default_factory=list)
    answers: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _report(
    phases: list[Phase],
    subs: list[list[int]],
    models: int,
    writer: WriterResult,
    clients: list[ClientResult],
    drain_end: float,
) -> tuple[list[PhaseReport], int, dict[str, int]]:
    """Per phase figures; also the events received outside any phase's
    commits (unexpected) and the errors before the first phase."""
    reports = [PhaseReport(p) for p in phases]
    subscribers = [0] * models
    for models_of_device in subs:
        for m in models_of_device:
            subscribers[m] += 1
    commits: dict[int, tuple[int, float, int]] = {}
    for record, model, at, index in writer.commits:
        commits[record] = (model, at, index)
        reports[index].commits += 1
        reports[index].expected += subscribers[model]
    subscribed = [set(s) for s in subs]
    seen: set[int] = set()
    stray = 0
    bounds = [p.start for p in phases] + [drain_end]

    def phase_of(at: float) -> int:
        for i in range(len(phases) - 1, -1, -1):
            if at >= bounds[i]:
                return i
        return -1

    early_errors: dict[str, int] = {}
    for result in clients:
        devices = array.array("i")
        devices.frombytes(result.device)
        records = array.array("q")
        records.frombytes(result.record)
        times = array.array("d")
        times.frombytes(result.received)
        for device, record, at in zip(devices, records, times, strict=True):
            commit = commits.get(record)
            if commit is None or commit[0] not in subscribed[device]:
                stray += 1
                continue
            report = reports[commit[2]]
            key = record << 24 | device
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            report.delivered += 1
            report.latencies.append(at - commit[1])
        answers = array.array("d")
        answers.frombytes(result.answers)
        for at in answers:
            i = phase_of(at)
            if i >= 0 and at < phases[i].end:
                reports[i].answers += 1
        for at, kind in result.errors:
            i = phase_of(at)
            if i < 0:
                early_errors[kind] = early_errors.get(kind, 0) + 1
            else:
                reports[i].errors[kind] = reports[i].errors.get(kind, 0) + 1
    for report in reports:
        report.latencies.sort()
    return reports, stray, early_errors


def _print_table(
    reports: list[PhaseReport],
    snaps: list[Snapshot],
    sampler: _Sampler,
    devices: int,
) -> None:
    width = 17
    print("\n" + "".join([f"{'':<28}"] + [f"{r.phase.name:>{width}}" for r in reports]))

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:<28}" + "".join(f"{c:>{width}}" for c in cells))

    def ms(value: float) -> str:
        return "n/a" if value != value else f"{value * 1000:.0f}"

    hours = [(r.phase.end - r.phase.start) / 3600 for r in reports]
    seconds = [h * 3600 for h in hours]
    cpu = {
        name: [getattr(snaps[i + 1], name) - getattr(snaps[i], name) for i in range(len(reports))]
        for name in ("server", "postgres", "clients", "writer", "busy", "ours")
    }

    def per_commit(values: list[float]) -> list[str]:
        return [
            f"{v / r.commits * 1000:.1f}" if r.commits else "-"
            for v, r in zip(values, reports, strict=True)
        ]

    def cores(values: list[float]) -> list[str]:
        return [f"{v / s:.2f}" for v, s in zip(values, seconds, strict=True)]

    row("commits", [str(r.commits) for r in reports])
    row("deliveries expected", [str(r.expected) for r in reports])
    row("delivered", [str(r.delivered) for r in reports])
    row("missed (error)", [str(r.expected - r.delivered) for r in reports])
    row("duplicates", [str(r.duplicates) for r in reports])
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        row(f"latency {label} ms", [ms(_percentile(r.latencies, q)) for r in reports])
    row("HTTP answers", [str(r.answers) for r in reports])
    row(
        "requests/device/h",
        [f"{r.answers / devices / h:.0f}" for r, h in zip(reports, hours, strict=True)],
    )
    row("server CPU ms/commit", per_commit(cpu["server"]))
    row("server CPU cores", cores(cpu["server"]))
    row(
        "server CPU ms/device/h",
        [f"{v * 1000 / devices / h:.2f}" for v, h in zip(cpu["server"], hours, strict=True)],
    )
    row("PostgreSQL CPU ms/commit", per_commit(cpu["postgres"]))
    row("PostgreSQL CPU cores", cores(cpu["postgres"]))
    row("load generator cores", cores(cpu["clients"]))
    row("writer cores", cores(cpu["writer"]))
    other = [max(0.0, b - o) for b, o in zip(cpu["busy"], cpu["ours"], strict=True)]
    row("other load cores", cores(other))
    rss, conns, server_conns = [], [], []
    for r in reports:
        inside = [s for s in sampler.samples if r.phase.start <= s[0] < r.phase.end]
        rss.append(f"{max((s[3] for s in inside), default=0) / 2**20:.0f}")
        conns.append(str(max((s[1] for s in inside), default=0)))
        server_conns.append(str(max((s[2] for s in inside), default=0)))
    row("server RSS MB (max)", rss)
    row("PG connections (max)", conns)
    row("  of which the server's", server_conns)
    kinds = sorted({kind for r in reports for kind in r.errors})
    for kind in kinds:
        row(f"errors: {kind}"[:27], [str(r.errors.get(kind, 0)) for r in reports])
    if not kinds:
        row("errors", ["0" for _ in reports])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = [int(x) for x in args.phases.split(",") if x.strip()]
    began = time.time()
    nofile = _raise_nofile()
    context = multiprocessing.get_context("spawn")
    logdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    cluster = TemporaryPostgres(durable=True)
    server: subprocess.Popen[bytes] | None = None
    odoo_process: multiprocessing.process.BaseProcess | None = None
    odoo_end: multiprocessing.connection.Connection | None = None
    clients: list[tuple[multiprocessing.process.BaseProcess, Any]] = []
    writer: multiprocessing.process.BaseProcess | None = None
    sampler: _Sampler | None = None
    try:
        admin_url = cluster.start()
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg_version = str(row[0]) if row else "?"
            row = conn.execute("SHOW max_connections").fetchone()
            max_connections = int(row[0]) if row else 0
        pool = int(os.environ.get("POOL_MAX_SIZE", "10"))
        if args.workers * (pool + 2) + 10 > max_connections:
            print(
                f"warning: {args.workers} workers x pool {pool} may exceed PostgreSQL's"
                f" max_connections {max_connections}",
                flush=True,
            )
        url = _create_database(admin_url, BENCH_DB)
        init_db(url)
        other_url = _create_database(admin_url, OTHER_DB)

        load = os.getloadavg()
        print(
            f"bench_live: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}),"
            f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Python"
            f" {platform.python_version()}, PostgreSQL {pg_version} (throwaway, fsync on),"
            f" RLIMIT_NOFILE {nofile}\n"
            f"  devices {args.devices:,} over {args.client_processes} load processes"
            f" ({args.client} client), models {args.models} (1-3 per device), wait {args.wait:g} s,"
            f" limit {LIMIT}; server workers {args.workers}, POOL_MAX_SIZE {pool};"
            f" phases of {args.phase_seconds:g} s",
            flush=True,
        )

        session_id = secrets.token_urlsafe(54)[:70]
        odoo_end, child_end = context.Pipe()
        odoo_process = context.Process(
            target=_serve_fake_odoo, args=(session_id, child_end), daemon=True
        )
        odoo_process.start()
        odoo_url = str(odoo_end.recv())
        server, port = _start_server(url, odoo_url, args.workers, logdir)
        print(f"server up on port {port} (log in {logdir}); Odoo stand-in at {odoo_url}")

        subs = _subscriptions(args.devices, args.models, args.seed)
        # First pulls spread over at least one wait, so that the waits also end
        # spread out: the steady state of devices that came online at random.
        ramp_seconds = max(args.devices / args.ramp_rate, args.wait)
        ramp_start = time.time() + 1.0
        for p in range(args.client_processes):
            mine = list(range(p, args.devices, args.client_processes))
            job = ClientJob(
                host="127.0.0.1",
                port=port,
                session_id=session_id,
                devices=[(i, f"bench-{i:06d}", [_model_name(m) for m in subs[i]]) for i in mine],
                start_times=[ramp_start + i * ramp_seconds / args.devices for i in mine],
                wait=args.wait,
                kind=args.client,
            )
            parent_end, child = context.Pipe()
            process = context.Process(target=client_main, args=(job, child), daemon=True)
            process.start()
            clients.append((process, parent_end))

        # Ramp-up: until (nearly) every device waits.
        deadline = ramp_start + ramp_seconds + 60
        waiting: int | None = 0
        wanted = args.devices - args.devices // 1000
        while time.time() < deadline:
            time.sleep(1)
            waiting = _waiting_pulls(port)
            if waiting is None:  # no gauge: count the device states
                waiting = _states(url)
            if time.time() > ramp_start + ramp_seconds and waiting >= wanted:
                break
        print(
            f"ramp-up: {waiting:,} of {args.devices:,} devices waiting after"
            f" {time.time() - ramp_start:.1f} s"
            + ("" if (waiting or 0) >= wanted else "  !NOT ALL WAITING (measuring anyway)"),
            flush=True,
        )

        sampler = _Sampler(admin_url, server.pid)
        sampler.start()
        t0 = time.time() + 2.0
        phases: list[Phase] = []
        for number in chosen:
            base = PHASES[number - 1]
            start = t0 + len(phases) * args.phase_seconds
            phases.append(Phase(base.name, base.rate, base.hold, start, start + args.phase_seconds))
        writer_end, child = context.Pipe()
        writer = context.Process(
            target=writer_main,
            args=(url, other_url, phases, args.models, args.seed, child),
            daemon=True,
        )
        writer.start()

        def snapshot() -> Snapshot:
            table = _process_table()
            assert server is not None and writer is not None
            return Snapshot(
                time.time(),
                _tree(table, [server.pid])[0],
                _tree(table, [postmaster])[0],
                _tree(table, [p.pid for p, _ in clients if p.pid])[0],
                _tree(table, [writer.pid] if writer.pid else [])[0],
                _machine_busy(),
                _tree(table, [os.getpid()])[0],
            )

        snaps: list[Snapshot] = []
        for phase in phases:
            time.sleep(max(0.0, phase.start - time.time()))
            snaps.append(snapshot())
            print(f"  phase {phase.name} ...", flush=True)
        time.sleep(max(0.0, phases[-1].end - time.time()))
        snaps.append(snapshot())
        # Drain: at least --drain seconds, then until every device waits again
        # (it has had every answer due), at most --drain-max seconds.
        time.sleep(max(0.0, phases[-1].end + args.drain - time.time()))
        # Every device, not `wanted`: one still backing off after a 503 has
        # answers due, which would be counted as missed.
        while time.time() < phases[-1].end + args.drain_max:
            waiting = _waiting_pulls(port)
            if waiting is None or waiting >= args.devices:
                break
            time.sleep(1)
        drain_end = time.time()
        print(
            f"drained in {drain_end - phases[-1].end:.1f} s"
            + (
                f"  !{args.devices - waiting:,} devices not waiting again"
                if waiting is not None and waiting < args.devices
                else ""
            ),
            flush=True,
        )
        sampler.stop.set()

        writer_result: WriterResult = writer_end.recv()
        for _, end in clients:
            end.send("stop")
        client_results: list[ClientResult] = [end.recv() for _, end in clients]

        reports, stray, early_errors = _report(
            phases, subs, args.models, writer_result, client_results, drain_end
        )
        _print_table(reports, snaps, sampler, args.devices)
        quiet = next((r for r in reports if not r.phase.rate), None)
        if quiet is not None:
            i = reports.index(quiet)
            hours = args.phase_seconds / 3600
            print(
                f"\nidle (quiet phase): {quiet.answers / args.devices / hours:.0f} requests and"
                f" {(snaps[i + 1].server - snaps[i].server) * 1000 / args.devices / hours:.2f}"
                " ms of server CPU per waiting device per hour"
            )
        if writer_result.behind > 0.5:
            print(f"note: the writer fell up to {writer_result.behind:.1f} s behind its schedule")
        problems = []
        missed = sum(r.expected - r.delivered for r in reports)
        if missed:
            problems.append(f"{missed} expected deliveries never received")
        if stray:
            problems.append(f"{stray} unexpected events (not subscribed or never committed)")
        if early_errors:
            problems.append(
                "client errors during ramp-up: "
                + ", ".join(f"{kind} {n}" for kind, n in sorted(early_errors.items()))
            )
        problems += [f"writer: {e}" for e in writer_result.errors[:5]]
        examples: dict[str, str] = {}
        for result in client_results:
            for example in result.first_errors:
                examples.setdefault(example.split(":", 1)[0], example)
        problems += [f"first {example}" for example in examples.values()]
        if any(r.errors for r in reports) or problems:
            print("\nERRORS:")
            for problem in problems:
                print(f"  {problem}")
        else:
            print("\nno errors")
        print(f"total time {time.time() - began:.0f} s")
    finally:
        if sampler is not None:
            sampler.stop.set()
        for client, end in clients:
            with contextlib.suppress(OSError, ValueError):
                end.send("stop")
            client.join(timeout=10)
            if client.is_alive():
                client.terminate()
        if writer is not None:
            writer.join(timeout=5)
            if writer.is_alive():
                writer.terminate()
        _stop_process(server)
        if odoo_process is not None and odoo_end is not None:
            with contextlib.suppress(OSError, ValueError):
                odoo_end.send("stop")
            odoo_process.join(timeout=10)
            if odoo_process.is_alive():
                odoo_process.terminate()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
