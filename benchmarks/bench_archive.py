"""Archiver benchmark: the three archiving rules over 10 million events,
while devices pull over HTTP and Odoo keeps inserting events.

    .venv/bin/python benchmarks/bench_archive.py [--events 10000000] [--states 10000]

1. Fills a throwaway PostgreSQL (fsync on) with `--events` events spread over
   90 days and `--states` device states (the same generator as bench_pull.py),
   then moves time forward by `--days-forward` (default 30) so that event ages
   span 30 to 120 days: about a third is past the 90-day deletion threshold,
   the rest past the 30-day forced-archive one.
2. Starts the Odoo stand-in and the real server, a puller process (16
   keep-alive connections pulling 100 events for random devices) and an
   inserter process (transactions of 3 events with the addon's INSERT and a
   NOTIFY, 50 a second), and measures them for a while before archiving.
3. Runs the archiver (`run_archiving`, as the addon's cron and `odoo-webhook-
   server archive` do, a commit per batch) in a child process, and reports its
   wall time, peak memory (max RSS of the process), rows archived and deleted
   per second; and the pull latency and insert rate before and during it.
4. Runs the archiver a second time (idempotence: nothing left to do).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.synchronize
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from bench_pull import (
    Database,
    _burn_transaction_ids,
    _create_database,
    _fill,
    _serve_fake_odoo,
    _start_server,
    _stop_process,
    _transactions_for,
)
from odoo_webhook_core.capture import NOTIFY_CHANNEL, CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.demo.postgres import TemporaryPostgres

ARCHIVE_CHILD = """
import json, resource, sys, time
from datetime import datetime
import psycopg
from odoo_webhook_core.archiving import read_policy, run_archiving
url, now, batch = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
with psycopg.connect(url) as conn, conn.cursor() as cur:
    summary = run_archiving(cur, read_policy(cur), now=now, batch_size=batch, commit=conn.commit)
summary["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(summary, default=str))
"""


def _puller(
    server: str,
    sid: str,
    devices: list[tuple[int, str, str]],
    stop: multiprocessing.synchronize.Event,
    out: multiprocessing.connection.Connection,
) -> None:
    """Pull 100 events for random devices until `stop`; send (time, latency) pairs."""
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    samples: list[tuple[float, float]] = []
    rng = random.Random()
    while not stop.is_set():
        user_id, device_id, app_type = rng.choice(devices)
        body = json.dumps(
            {"user_id": user_id, "device_id": device_id, "app_type": app_type, "limit": 100}
        )
        started = time.perf_counter()
        conn.request(
            "POST",
            "/api/v2/sync/pull",
            body,
            {"Content-Type": "application/json", "X-Session-Id": sid},
        )
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            samples.append((time.time(), (time.perf_counter() - started) * 1000))
    out.send(samples)


def _inserter(
    url: str, stop: multiprocessing.synchronize.Event, out: multiprocessing.connection.Connection
) -> None:
    """50 transactions a second of 3 events each, as the addon writes them."""
    samples: list[tuple[float, float]] = []
    record = 10_000_000
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            record += 1
            changes = [
                CapturedChange("res.partner", record, "create"),
                CapturedChange("sale.order", record, "create"),
                CapturedChange("res.partner", record - 1, "write", ("name",)),
            ]
            sql, params = insert_events_sql(changes, user_id=2, now=utcnow())
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(sql, params)
                conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            samples.append((time.time(), (time.perf_counter() - started) * 1000))
            time.sleep(0.02)
    out.send(samples)


def _window(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    latencies = sorted(ms for at, ms in samples if start <= at < end)
    if not latencies:
        return {"count": 0, "per_s": 0.0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "count": len(latencies),
        "per_s": len(latencies) / (end - start),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
    }


def _archive(url: str, now: datetime, batch: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", ARCHIVE_CHILD, url, now.isoformat(), str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    summary["wall_seconds"] = wall
    summary["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--states", type=int, default=10_000)
    parser.add_argument("--days-forward", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of load before")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    cluster = TemporaryPostgres(durable=True)
    admin_url = cluster.start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    processes: list[Any] = []
    try:
        txid_base = _burn_transaction_ids(admin_url, _transactions_for(args.events))
        db = Database(
            "ARCHIVE", "bench_archive", _create_database(admin_url, "bench_archive"), args.events
        )
        _fill(db, args.states, txid_base)
        print(
            f"filled {args.events:,} events, {args.states:,} device states in"
            f" {db.fill_seconds:.0f} s; {db.size}",
            flush=True,
        )

        sid = secrets.token_urlsafe(32)
        parent, child = context.Pipe()
        odoo = context.Process(target=_serve_fake_odoo, args=(sid, child), daemon=True)
        odoo.start()
        processes.append(odoo)
        _start_server(db, parent.recv(), 1, logdir, None)
        with psycopg.connect(db.url) as conn:
            devices = [
                (int(u), str(d), str(a))
                for u, d, a in conn.execute(
                    "SELECT user_id, device_id, app_type FROM user_sync_state"
                    " ORDER BY id LIMIT 2000"
                ).fetchall()
            ]

        stop = context.Event()
        pull_out, pull_in = context.Pipe(duplex=False)
        insert_out, insert_in = context.Pipe(duplex=False)
        loaders = [
            context.Process(target=_puller, args=(db.server_url, sid, devices, stop, pull_in)),
            context.Process(target=_inserter, args=(db.url, stop, insert_in)),
        ]
        for process in loaders:
            process.start()
        load_start = time.time()
        time.sleep(args.warmup)
        now = utcnow() + timedelta(days=args.days_forward)
        archive_start = time.time()
        first = _archive(db.url, now, args.batch_size)
        archive_end = time.time()
        time.sleep(2)
        second = _archive(db.url, now, args.batch_size)
        stop.set()
        pulls, inserts = pull_out.recv(), insert_out.recv()
        for process in loaders:
            process.join(timeout=30)

        rows = first["archived_synced"] + first["archived_forced"] + first["deleted"]
        print(f"\narchiver (batch {args.batch_size}, time moved {args.days_forward} days forward):")
        print(f"  archived after all acknowledged {first['archived_synced']:>12,}")
        print(f"  archived forced (30 days)       {first['archived_forced']:>12,}")
        print(f"  deleted (90 days)               {first['deleted']:>12,}")
        print(
            f"  wall time                       {first['wall_seconds']:>12.1f} s"
            f"   ({rows / first['wall_seconds']:,.0f} row changes/s)"
        )
        print(f"  archiver CPU                    {first['cpu_seconds']:>12.1f} s")
        print(f"  archiver peak memory (max RSS)  {first['max_rss_mb']:>12.1f} MB")
        print(f"  batches                         {first['batches']:>12,}")
        print(
            f"  second run (idempotent)         {second['archived_synced']}"
            f" + {second['archived_forced']} archived, {second['deleted']} deleted"
            f" in {second['wall_seconds']:.1f} s"
        )
        print("\nconcurrent load        before archiving          during archiving")
        for label, samples in (("pulls (100 events)", pulls), ("inserts (3 events)", inserts)):
            b = _window(samples, load_start, archive_start)
            d = _window(samples, archive_start, archive_end)
            print(
                f"  {label:<20} {b['per_s']:6.0f}/s p50 {b['p50']:5.1f} p99 {b['p99']:6.1f} ms"
                f"   {d['per_s']:6.0f}/s p50 {d['p50']:5.1f} p99 {d['p99']:6.1f}"
                f" max {d['max']:7.1f} ms"
            )
        return 0
    finally:
        for process in processes:
            process.terminate()
        _stop_process(getattr(db, "server", None) if "db" in locals() else None)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
