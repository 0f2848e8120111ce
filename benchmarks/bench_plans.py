"""Plan-cache benchmark: the server's statements with PostgreSQL's default
plan choice and with the generic plans the server's pool forces.

    .venv/bin/python benchmarks/bench_plans.py [--events 500000] [--runs 30]

The server's pool sets `plan_cache_mode = force_generic_plan` on every
connection (storage/pool.py): PostgreSQL re-planned the events query of a
subset of models on every pull. This checks that the other statements do
not pay for it. It fills a throwaway PostgreSQL with `--events` events of 10
models, one a second, and times, on one connection per mode, the v1 queries
(check-updates, events of one model since a time) and the v2 events query
(all models and three models, at the head and 100 events behind), each
`--runs` times after a warm-up that makes psycopg prepare it. The modes run
alternately, `--rounds` times; it prints the median of each in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.storage import events as event_store
from odoo_webhook_server.storage import v1_queries as v1
from odoo_webhook_server.storage.schema import init_db
from odoo_webhook_server.sync.cursor import Cursor
from odoo_webhook_server.sync.position import Position

MODES = ("auto", "force_generic_plan")
START = datetime(2026, 1, 1)


def _fill(url: str, events: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO update_webhook (model, record_id, event, "timestamp", txid, user_id)
               SELECT 'model.' || (g %% 10), g, 'write', %s + g * interval '1 second',
                      1000 + g / 10, 2
                 FROM generate_series(1, %s) AS g""",
            (START, events),
        )
        conn.execute("VACUUM ANALYZE update_webhook")


def _cases(conn: Any, events: int, head: Position) -> dict[str, Callable[[], Awaitable[object]]]:
    recent = START + timedelta(seconds=events - 1000)
    behind = Position.of_cursor(Cursor(1000 + (events - 100) // 10, events - 100))
    some = ("model.1", "model.2", "model.3")
    return {
        "v1 check-updates": lambda: v1.check_updates(conn, recent, 100),
        "v1 check-updates, one model": lambda: v1.check_updates(
            conn, recent, 100, frozenset({"model.3"})
        ),
        "v1 events of one model": lambda: v1.list_events(
            conn, model="model.3", since=recent, limit=100
        ),
        "v2 events, all models, head": lambda: event_store.page_after(conn, head, None, 101),
        "v2 events, all models, behind": lambda: event_store.page_after(conn, behind, None, 101),
        "v2 events, 3 models, head": lambda: event_store.page_after(conn, head, some, 101),
        "v2 events, 3 models, behind": lambda: event_store.page_after(conn, behind, some, 101),
    }


async def _measure(url: str, mode: str, events: int, runs: int) -> dict[str, float]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"SET plan_cache_mode = {mode}")
        head = await event_store.head(conn)  # a snapshot as a device at the head has
        medians = {}
        for name, case in _cases(conn, events, head).items():
            for _ in range(8):  # psycopg prepares a statement after 5 runs
                await case()
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await case()
                times.append((time.perf_counter() - started) * 1000)
            medians[name] = statistics.median(times)
        return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per statement")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two modes")
    args = parser.parse_args(argv)
    cluster = TemporaryPostgres(durable=True)
    url = cluster.start()
    try:
        init_db(url)
        _fill(url, args.events)
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for mode in MODES:
                for name, median in asyncio.run(
                    _measure(url, mode, args.events, args.runs)
                ).items():
                    results.setdefault(name, {}).setdefault(mode, []).append(median)
    finally:
        cluster.stop()
    print(f"bench_plans: {args.events:,} events, median ms of {args.runs} runs, per round")
    print(f"{'statement':34} {'auto':>22} {'force_generic_plan':>22}")
    for name, by_mode in results.items():
        cells = [" / ".join(f"{m:.2f}" for m in by_mode[mode]) for mode in MODES]
        print(f"{name:34} {cells[0]:>22} {cells[1]:>22}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
