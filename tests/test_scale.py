"""Live sync with many devices and several server processes, over real HTTP:
servers started as `odoo-webhook-server serve`, as in production."""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread

from .conftest import Stack, free_port, wait_until_serving, write_events
from .test_metrics import scrape, value

COMMAND = [sys.executable, "-m", "odoo_webhook_server", "serve", "--host", "127.0.0.1"]
POOL_SIZE = 10


@contextmanager
def server_process(database_url: str, odoo_url: str, **env: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "--port", str(port)],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "ODOO_URL": odoo_url,
            "ODOO_DB": "odoo",
            "POOL_MAX_SIZE": str(POOL_SIZE),
            "RATE_LIMIT_PULL_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
            **env,
        },
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def odoo(fake_odoo: FakeOdoo) -> Iterator[str]:
    with serve_in_thread(fake_odoo.app()) as odoo_url:
        yield odoo_url


def _server_connections(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'odoo-webhook-server'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_thousand_waiting_pulls_hold_no_more_connections_than_the_pool(
    database_url: str, odoo: str, fake_odoo: FakeOdoo
) -> None:
    devices = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * devices)), hard))
    headers = {"X-Session-Id": fake_odoo.login("admin")}
    peak = 0
    with server_process(database_url, odoo, POOL_TIMEOUT_SECONDS="60") as base_url:

        async def run() -> list[httpx.Response]:
            nonlocal peak
            limits = httpx.Limits(max_connections=devices + 10)
            async with httpx.AsyncClient(
                base_url=base_url, headers=headers, limits=limits, timeout=120
            ) as client:
                pulls = [
                    asyncio.create_task(
                        client.post(
                            "/api/v2/sync/pull",
                            json={
                                "user_id": 2,
                                "device_id": f"phone-{i}",
                                "app_type": "manager_app",
                                "wait": 60,
                            },
                        )
                    )
                    for i in range(devices)
                ]
                # Every device has read its (empty) state and waits.
                deadline = time.monotonic() + 60
                while await asyncio.to_thread(_waiting, database_url) < devices:
                    assert time.monotonic() < deadline, "the devices did not all get to wait"
                    peak = max(peak, await asyncio.to_thread(_server_connections, database_url))
                for _ in range(10):
                    peak = max(peak, await asyncio.to_thread(_server_connections, database_url))
                    await asyncio.sleep(0.1)
                await asyncio.to_thread(write_events, database_url, ("res.partner", 7, "create"))
                done = asyncio.gather(*pulls)
                while not done.done():
                    peak = max(peak, await asyncio.to_thread(_server_connections, database_url))
                    await asyncio.sleep(0.05)
                return await done

        responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * devices
    assert all([e["record_id"] for e in r.json()["events"]] == [7] for r in responses)
    assert 0 < peak <= POOL_SIZE


def _waiting(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM user_sync_state").fetchone()
    assert row is not None
    return int(row[0])


def test_a_device_alternating_between_two_server_processes_sees_one_stream(
    database_url: str, odoo: str, fake_odoo: FakeOdoo
) -> None:
    """Behind a load balancer: each pull (plain or long poll) lands on the
    other process, while writers commit short and long transactions. Every
    committed event arrives exactly once, and each process takes the
    other's tokens."""
    headers = {"X-Session-Id": fake_odoo.login("admin")}
    committed: list[int] = []
    stop = threading.Event()

    records = itertools.count(1)  # next() is atomic: unique across writers

    def writer() -> None:
        while not stop.is_set():
            record = next(records)
            changes = [CapturedChange("res.partner", record, "create")]
            sql, params = insert_events_sql(changes, user_id=2, now=utcnow())
            with psycopg.connect(database_url) as conn:
                conn.execute(sql, params)
                time.sleep(0.6 if record % 7 == 0 else 0.01)  # now and then a long one
                conn.commit()
            committed.append(record)
            time.sleep(0.02)

    received: list[int] = []
    with (
        server_process(database_url, odoo) as first,
        server_process(database_url, odoo) as second,
    ):
        clients = [
            httpx.Client(base_url=url, headers=headers, timeout=60) for url in (first, second)
        ]
        writers = [threading.Thread(target=writer) for _ in range(3)]
        for thread in writers:
            thread.start()
        token: str | None = None
        ends = time.monotonic() + 6
        pull = 0
        quiet_pulls = 0
        try:
            while quiet_pulls < 2:
                if time.monotonic() > ends:
                    stop.set()
                body: dict[str, Any] = {
                    "user_id": 2,
                    "device_id": "roaming",
                    "app_type": "manager_app",
                    "limit": 5,
                    "wait": 1 if pull % 3 == 0 else 0,
                }
                if token:
                    body["sync_token"] = token
                response = clients[pull % 2].post("/api/v2/sync/pull", json=body)
                pull += 1
                assert response.status_code == 200, response.text
                data = response.json()
                received += [e["record_id"] for e in data["events"]]
                token = data["next_sync_token"]
                if stop.is_set() and not any(t.is_alive() for t in writers):
                    quiet_pulls += not data["events"] and not data["has_more"]
        finally:
            stop.set()
            for thread in writers:
                thread.join()
            for client in clients:
                client.close()
    assert pull > 20
    assert sorted(received) == sorted(committed)  # all, once each


def test_devices_at_one_position_cost_one_query_per_commit(stack: Stack) -> None:
    """40 devices with one subscription wait at one position: a commit is
    read for all of them with one events query, and their states written in
    one statement; served together, they wait together again. Their next
    pulls, from where the server left them, wait without a statement
    (at rest), and are written with their next answer."""
    devices = 40
    tokens: dict[str, str | None] = {f"phone-{i}": None for i in range(devices)}

    async def wait_all() -> dict[str, list[int]]:
        async with httpx.AsyncClient(
            base_url=stack.base_url, headers={"X-Session-Id": stack.sid("admin")}, timeout=60
        ) as client:

            async def one(device: str) -> tuple[str, list[int]]:
                body: dict[str, Any] = {
                    "user_id": 2,
                    "device_id": device,
                    "app_type": "manager_app",
                    "wait": 30,
                }
                if tokens[device]:
                    body["sync_token"] = tokens[device]
                response = await client.post("/api/v2/sync/pull", json=body)
                assert response.status_code == 200, response.text
                tokens[device] = response.json()["next_sync_token"]
                return device, [e["record_id"] for e in response.json()["events"]]

            return dict(await asyncio.gather(*(one(device) for device in tokens)))

    for record_id in (1, 2):
        before = scrape(stack.base_url)
        answers: dict[str, list[int]] = {}
        waiting = threading.Thread(
            target=lambda answers=answers: answers.update(asyncio.run(wait_all()))
        )
        waiting.start()
        deadline = time.monotonic() + 30
        while value(scrape(stack.base_url), "odoo_sync_long_polls_waiting") < devices:
            assert time.monotonic() < deadline, "the devices did not all get to wait"
            time.sleep(0.05)
        write_events(stack.database_url, ("res.partner", record_id, "create"))
        waiting.join(timeout=60)
        assert answers == {device: [record_id] for device in tokens}
        after = scrape(stack.base_url)

        def delta(what: str, after: Any = after, before: Any = before) -> float:
            name = "odoo_sync_shared_reads_total"
            return value(after, name, what=what) - value(before, name, what=what)

        assert (delta("batches"), delta("queries"), delta("served")) == (1, 1, devices)
        if record_id == 2:
            # Their pulls (known devices, with the tokens of the answers the
            # server gave them) waited at rest: none was read.
            def pulls(what: str, after: Any = after, before: Any = before) -> float:
                name = "odoo_sync_pull_batches_total"
                return value(after, name, what=what) - value(before, name, what=what)

            assert (pulls("at_rest"), pulls("pulls"), pulls("alone")) == (devices, 0, 0)


def test_each_process_listens_from_its_start(database_url: str, odoo: str) -> None:
    """The LISTEN connection opens with the server, not at the first long
    poll: the first commit after a start wakes its devices at once. Nothing
    has asked for a long poll or readiness here."""
    with server_process(database_url, odoo):
        deadline = time.monotonic() + 10
        while True:
            with psycopg.connect(database_url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'odoo-webhook-server-listen'"
                ).fetchone()
            if row is not None and row[0] == 1:
                break
            assert time.monotonic() < deadline, "no LISTEN connection after the start"
            time.sleep(0.1)
