"""The Python client (odoo_webhook_server.client), sync and async, against the
real server over loopback HTTP and a real PostgreSQL.

Faults come from a small HTTP proxy between client and server that can
answer 503 or drop a pull's answer after the server gave it, and that sees
when the client closes its connection; a real process kill comes from a
subprocess; a database outage from a cluster of the test's own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from odoo_webhook_core.archiving import ArchivePolicy, run_archiving
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.client import (
    AsyncSyncClient,
    Backoff,
    Event,
    Forbidden,
    InvalidRequest,
    JsonFileStore,
    MemoryStore,
    NetworkError,
    NotFound,
    ResyncRequired,
    ServerUnavailable,
    SessionExpired,
    SubscriptionChanged,
    SyncClient,
    SyncError,
    Unavailable,
    UnexpectedResponse,
    stable_device_id,
)
from odoo_webhook_server.client._protocol import interpret
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.schema import init_db

from .conftest import Stack, days, insert_event, settings_for, sql, write_events

_records = itertools.count(1)


def write(database_url: str, n: int, model: str = "res.partner") -> list[int]:
    """`n` creates of distinct records (nothing coalesces), one transaction
    each; their event ids."""
    for _ in range(n):
        write_events(database_url, (model, next(_records), "create"))
    return [row[0] for row in sql(database_url, "SELECT id FROM update_webhook ORDER BY id")][-n:]


def all_event_ids(database_url: str) -> set[int]:
    return {row[0] for row in sql(database_url, "SELECT id FROM update_webhook")}


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Applied:
    """An `apply` that records every batch, and can fail on chosen batches."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.batches: list[list[Event]] = []
        self.fail_on = fail_on or set()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, events: list[Event]) -> None:
        with self._lock:
            self.calls += 1
            if self.calls in self.fail_on:
                raise RuntimeError(f"apply failed on batch {self.calls}")
            self.batches.append(list(events))

    @property
    def ids(self) -> list[int]:
        with self._lock:
            return [e.id for batch in self.batches for e in batch]

    def has(self, ids: set[int]) -> bool:
        return ids <= set(self.ids)


class Live:
    """`client.live(apply, stop)` in a thread, stopped when the block ends."""

    def __init__(self, client: SyncClient, apply: Callable[[list[Event]], None]) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(client, apply), daemon=True)

    def _run(self, client: SyncClient, apply: Callable[[list[Event]], None]) -> None:
        try:
            client.live(apply, self.stop)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Live:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end()

    def end(self, within: float = 30) -> None:
        self.stop.set()
        self._thread.join(within)
        assert not self._thread.is_alive(), "live() did not stop"
        if self.error is not None:
            raise self.error

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


class FaultyProxy:
    """An HTTP/1.1 proxy on loopback in front of the server.

    `faults` is consumed in order by pulls: "503" answers the next pull 503
    without asking the server; "drop" waits for the next pull the server
    answers with events and closes the client's connection instead of
    passing that answer on (a response lost on the way). It counts requests
    in flight and the clients that closed their connection while their
    request was in flight."""

    def __init__(self, upstream: str) -> None:
        url = httpx.URL(upstream)
        self._upstream = (url.host, url.port or 80)
        self.faults: collections.deque[str] = collections.deque()
        self.dropped: list[dict[str, Any]] = []
        self.answered_503 = 0
        self.pulls_forwarded = 0
        self.in_flight = 0
        self.connections = 0
        self.closed_while_waiting = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.url = ""

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return head, await reader.readexactly(length)

    async def _exchange(self, request: bytes) -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(request)
            await writer.drain()
            return await self._read_message(reader)
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head, body = await self._read_message(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                is_pull = b" /api/v2/sync/pull " in head.split(b"\r\n", 1)[0]
                if is_pull and self.faults and self.faults[0] == "503":
                    self.faults.popleft()
                    self.answered_503 += 1
                    payload = b'{"detail": "The database is unavailable", "code": "test"}'
                    writer.write(
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                        + f"content-length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                    await writer.drain()
                    continue
                self.in_flight += 1
                self.pulls_forwarded += is_pull
                exchange = asyncio.ensure_future(self._exchange(head + body))
                client_gone = asyncio.ensure_future(reader.read(1))
                try:
                    await asyncio.wait({exchange, client_gone}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self.in_flight -= 1
                if not exchange.done():
                    assert client_gone.result() == b"", "the client sent data mid-request"
                    self.closed_while_waiting += 1
                    exchange.cancel()  # closes the connection to the server too
                    return
                client_gone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    if await client_gone == b"":
                        return  # closed just as the answer came
                answer_head, answer_body = exchange.result()
                if is_pull and self.faults and self.faults[0] == "drop":
                    answer = json.loads(answer_body)
                    if answer.get("events"):
                        self.faults.popleft()
                        self.dropped.append(answer)
                        return
                writer.write(answer_head + answer_body)
                await writer.drain()
        finally:
            self.connections -= 1
            writer.close()


def no_sleep(delays: list[float]) -> Callable[[float], None]:
    return delays.append


async def eventually(condition: Callable[[], bool], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def server(database_url: str, odoo: FakeOdoo, **settings: Any) -> Iterator[str]:
    """The real server with settings of the test's own; its base URL."""
    with (
        serve_in_thread(odoo.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(database_url, odoo_url, **settings))) as base,
    ):
        yield base


def client(stack: Stack, **kwargs: Any) -> SyncClient:
    kwargs.setdefault("device_id", "phone")
    kwargs.setdefault("app_type", "manager_app")
    kwargs.setdefault("user_id", 2)
    base_url = kwargs.pop("base_url", stack.base_url)
    session = kwargs.pop("session", stack.sid("admin"))
    return SyncClient(base_url, session, **kwargs)


# -- sync_once and acknowledgement ------------------------------------------


def test_sync_once_applies_every_batch_and_acknowledges_it(stack: Stack) -> None:
    ids = write(stack.database_url, 12)
    applied = Applied()
    store = MemoryStore()
    with client(stack, store=store, limit=5) as c:
        assert c.sync_once(applied) == 12
        assert [len(batch) for batch in applied.batches] == [5, 5, 2]
        assert applied.ids == ids
        # The last, empty pull acknowledged the last batch: the server's state is exact.
        assert c.state().last_event_id == ids[-1]
        assert store.get("odoo-sync:2:phone:next_sync_token")
        assert c.sync_once(applied) == 0
        more = write(stack.database_url, 2)
        assert c.sync_once(applied) == 2
    assert applied.ids == ids + more


@pytest.mark.parametrize("failing_batch", [1, 3], ids=["first batch", "later batch"])
def test_a_batch_whose_apply_failed_comes_again(stack: Stack, failing_batch: int) -> None:
    ids = write(stack.database_url, 12)
    store = MemoryStore()
    failing = Applied(fail_on={failing_batch})
    with client(stack, store=store, limit=5) as c, pytest.raises(RuntimeError):
        c.sync_once(failing)
    delivered_before = failing.ids
    assert delivered_before == ids[: 5 * (failing_batch - 1)]
    again = Applied()
    with client(stack, store=store, limit=5) as c:
        c.sync_once(again)
    # The batch being applied comes again; nothing before it does; nothing is skipped.
    assert again.ids == ids[len(delivered_before) :]


KILLED_CLIENT = """
import json, os, signal, sys
from odoo_webhook_server.client import JsonFileStore, SyncClient

base_url, session, store_path, log_path, kill_at = sys.argv[1:]
batches = 0

def apply(events):
    global batches
    batches += 1
    with open(log_path, "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "ids": [e.id for e in events]}) + "\\n")
        log.flush()
        os.fsync(log.fileno())
    if batches == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)  # in the middle of apply

store = JsonFileStore(store_path)
with SyncClient(base_url, session, 2, "killed-phone", "manager_app", store=store, limit=5) as c:
    c.sync_once(apply)
"""


@pytest.mark.parametrize("kill_at", [1, 3], ids=["first batch", "later batch"])
def test_a_client_killed_in_the_middle_of_apply_loses_nothing(
    stack: Stack, tmp_path: Path, kill_at: int
) -> None:
    ids = write(stack.database_url, 23)
    store, log = tmp_path / "store.json", tmp_path / "applied.jsonl"

    def run(kill: int) -> subprocess.CompletedProcess[str]:
        args = [stack.base_url, stack.sid("admin"), str(store), str(log), str(kill)]
        return subprocess.run(
            [sys.executable, "-c", KILLED_CLIENT, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    killed = run(kill_at)
    assert killed.returncode == -9, killed.stderr
    finished = run(0)
    assert finished.returncode == 0, finished.stderr

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    first = [line["ids"] for line in lines if line["pid"] == lines[0]["pid"]]
    second = [line["ids"] for line in lines if line["pid"] != lines[0]["pid"]]
    assert len(first) == kill_at
    assert second[0] == first[-1]  # the batch it was killed in came again
    assert [i for batch in first[:-1] + second for i in batch] == ids  # no gap, no repeat
    assert "next_sync_token" in "".join(json.loads(store.read_text()))


# -- faults on the way: lost answers, 503, database restart ------------------


def test_lost_answers_are_served_again(stack: Stack) -> None:
    ids = write(stack.database_url, 7)
    applied, delays = Applied(), list[float]()
    with (
        FaultyProxy(stack.base_url) as proxy,
        client(stack, base_url=proxy.url, limit=5, wait=1, sleep=no_sleep(delays)) as c,
    ):
        proxy.faults.extend(["drop", "drop"])  # the first answer (no token yet), and its retry
        with Live(c, applied):
            wait_until(lambda: applied.has(set(ids)), what="the first events")
            proxy.faults.append("drop")  # an answer with a token
            more = write(stack.database_url, 3)
            wait_until(lambda: applied.has(set(more)), what="the later events")
    assert len(proxy.dropped) == 3
    assert all(answer["events"] for answer in proxy.dropped)  # the server had answered
    assert len(delays) == 3
    lost = {e["id"] for answer in proxy.dropped for e in answer["events"]}
    assert lost <= set(applied.ids)
    assert sorted(set(applied.ids)) == ids + more == sorted(all_event_ids(stack.database_url))


def test_503_bursts_are_ridden_out_with_full_jitter_backoff(stack: Stack) -> None:
    ids = write(stack.database_url, 3)
    applied, delays = Applied(), list[float]()
    backoff = Backoff(base=0.1, cap=0.4)
    with (
        FaultyProxy(stack.base_url) as proxy,
        client(
            stack,
            base_url=proxy.url,
            wait=1,
            backoff=backoff,
            sleep=no_sleep(delays),
            random=lambda: 1.0,  # the top of each jitter window
        ) as c,
    ):
        proxy.faults.extend(["503"] * 4)
        with Live(c, applied):
            wait_until(lambda: applied.has(set(ids)))
            proxy.faults.extend(["503"] * 2)
            more = write(stack.database_url, 2)
            wait_until(lambda: applied.has(set(more)) and len(delays) == 6)
    assert proxy.answered_503 == 6
    # Doubling up to the cap, starting again after a success.
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.1, 0.2])
    assert applied.ids == ids + more


def test_backoff_is_full_jitter_under_a_cap() -> None:
    backoff = Backoff(base=0.5, cap=30)
    assert [backoff.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(3, 0.25) == 1.0
    assert backoff.delay(10_000, 0.5) == 15  # no overflow
    with pytest.raises(ValueError):
        Backoff(base=2, cap=1)


def test_a_database_restart_is_ridden_out(fake_odoo: FakeOdoo) -> None:
    cluster = TemporaryPostgres()
    url = cluster.start()
    retries = 0

    def counting_random() -> float:
        nonlocal retries
        retries += 1
        return 1.0

    try:
        init_db(url)
        with (
            server(url, fake_odoo, pool_timeout_seconds=1) as base,
            SyncClient(
                base,
                fake_odoo.login("admin"),
                2,
                "phone",
                "manager_app",
                wait=2,
                backoff=Backoff(base=0.05, cap=0.5),
                random=counting_random,
            ) as c,
        ):
            applied = Applied()
            with Live(c, applied) as live:
                before = write(url, 5)
                wait_until(lambda: applied.has(set(before)))
                cluster.kill()
                wait_until(lambda: retries >= 3, what="503s while the database is down")
                cluster.restart()
                after = write(url, 5)
                wait_until(lambda: applied.has(set(after)), what="events after the restart")
                assert live.running
            assert sorted(set(applied.ids)) == sorted(all_event_ids(url)) == before + after
    finally:
        cluster.stop()


# -- resync, session expiry, subscription ------------------------------------


def test_resync_after_archiving_reaches_on_resync_and_goes_on_from_the_head(
    stack: Stack,
) -> None:
    write(stack.database_url, 1)
    reasons: list[str] = []
    during_reload: list[int] = []

    def reload(reason: str) -> None:
        reasons.append(reason)
        # A change committed while the app reloads comes again afterwards:
        # the client reset to the head before calling this.
        during_reload.extend(write(stack.database_url, 1))

    applied = Applied()
    alice = {"user_id": 6, "session": stack.sid("alice"), "app_type": "sales_app"}
    with client(stack, **alice, on_resync=reload) as c:
        c.sync_once(applied)
        lost = insert_event(stack.database_url, "res.partner", 95, utcnow() - days(95))
        with psycopg.connect(stack.database_url) as conn, conn.cursor() as cur:
            run_archiving(cur, ArchivePolicy(), now=utcnow(), batch_size=10, commit=conn.commit)
        assert lost not in all_event_ids(stack.database_url)

        c.sync_once(applied)
        assert len(reasons) == 1 and "res.partner" in reasons[0]
        assert during_reload[0] in applied.ids
        later = write(stack.database_url, 2)
        c.sync_once(applied)
    assert lost not in applied.ids
    assert applied.ids[-3:] == during_reload + later


def test_a_superseded_token_reaches_on_resync(stack: Stack) -> None:
    ids = write(stack.database_url, 3)
    reasons: list[str] = []
    applied = Applied()
    store = MemoryStore()
    with client(stack, store=store, on_resync=reasons.append) as c:
        c.sync_once(applied)
        token = store.get("odoo-sync:2:phone:next_sync_token")
        # Someone resets the device behind the app's back: its token is now stale (409).
        with stack.client() as other:
            other.post("/api/v2/sync/reset", params={"user_id": 2, "device_id": "phone"})
        write(stack.database_url, 2)  # before the reload: the reloaded data has them
        c.sync_once(applied)
        assert len(reasons) == 1 and "reset" in reasons[0]
        assert applied.ids == ids
        assert store.get("odoo-sync:2:phone:next_sync_token") != token
        later = write(stack.database_url, 1)
        c.sync_once(applied)
    assert applied.ids == ids + later  # from the head on: only the later changes


def test_without_on_resync_the_app_gets_resync_required(stack: Stack) -> None:
    write(stack.database_url, 1)
    store = MemoryStore()
    with client(stack, store=store) as c:
        c.sync_once(Applied())
        token = store.get("odoo-sync:2:phone:next_sync_token")
        with stack.client() as other:
            other.post("/api/v2/sync/reset", params={"user_id": 2, "device_id": "phone"})
        for _ in range(2):  # nothing was changed: it stays so until the app acts
            with pytest.raises(ResyncRequired) as raised:
                c.sync_once(Applied())
            assert raised.value.status_code == 409
        assert store.get("odoo-sync:2:phone:next_sync_token") == token
        # What the app does: reset to the head, reload its data, go on.
        c.reset("head")
        more = write(stack.database_url, 1)
        again = Applied()
        c.sync_once(again)
    assert again.ids == more


def test_an_unreadable_token_means_resync(stack: Stack) -> None:
    """A token this server cannot read (422 on sync_token: another database,
    a new secret): the position is unknown, so the app reloads."""
    write(stack.database_url, 2)
    store = MemoryStore()
    reasons: list[str] = []
    with client(stack, store=store, on_resync=reasons.append) as c:
        c.sync_once(Applied())
        store.set("odoo-sync:2:phone:next_sync_token", "v1.garbage")
        with client(stack, store=store) as without_hook, pytest.raises(ResyncRequired) as raised:
            without_hook.sync_once(Applied())
        assert raised.value.status_code == 422
        assert isinstance(raised.value.__cause__, InvalidRequest)
        c.sync_once(Applied())
        assert len(reasons) == 1 and "sync_token" in reasons[0]
        later = write(stack.database_url, 1)
        applied = Applied()
        c.sync_once(applied)
    assert applied.ids == later


def test_a_new_device_can_start_at_the_head(stack: Stack) -> None:
    """initial_position="head": the app loads its data in on_resync, then
    only later changes come."""
    write(stack.database_url, 3)
    loads: list[str] = []
    applied = Applied()
    with client(stack, initial_position="head", on_resync=loads.append) as c:
        assert c.sync_once(applied) == 0
        assert loads == ["new device: nothing stored yet"]
        later = write(stack.database_url, 2)
        assert c.sync_once(applied) == 2
    assert applied.ids == later and len(loads) == 1


def test_session_expiry_reaches_on_session_expired(database_url: str, fake_odoo: FakeOdoo) -> None:
    sessions = {"current": fake_odoo.login("admin")}
    renewals = 0

    def log_in_again() -> str:
        nonlocal renewals
        renewals += 1
        sessions["current"] = fake_odoo.login("admin")
        return sessions["current"]

    applied = Applied()
    with (
        server(database_url, fake_odoo, session_cache_seconds=0) as base,
        SyncClient(
            base,
            lambda: sessions["current"],
            2,
            "phone",
            "manager_app",
            wait=1,
            on_session_expired=log_in_again,
        ) as c,
    ):
        with Live(c, applied):
            first = write(database_url, 2)
            wait_until(lambda: applied.has(set(first)))
            fake_odoo.logout(sessions["current"])
            wait_until(lambda: renewals == 1, what="the next pull's 401")
            later = write(database_url, 2)
            wait_until(lambda: applied.has(set(later)), what="events after the new login")
        assert renewals == 1
        assert applied.ids == first + later

        # Without a hook, or when the hook fails: a typed SessionExpired.
        fake_odoo.logout(sessions["current"])

        def cannot_log_in() -> str:
            raise PermissionError("wrong password")

        for hook in (None, cannot_log_in):
            with (
                SyncClient(
                    base, sessions["current"], 2, "phone", "manager_app", on_session_expired=hook
                ) as expired,
                pytest.raises(SessionExpired) as raised,
            ):
                expired.sync_once(applied)
            assert raised.value.status_code == 401 and raised.value.code == "invalid_session"
        assert isinstance(raised.value.__cause__, PermissionError)


def test_a_changed_subscription_resets_and_replays(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"), ("sale.order", 1, "create"))
    store = MemoryStore()
    narrow = Applied()
    with client(stack, store=store, app_type="sales_app", models_filter=["res.partner"]) as c:
        c.sync_once(narrow)
    assert [e.model for batch in narrow.batches for e in batch] == ["res.partner"]

    told: list[str] = []
    wide = Applied()
    with client(stack, store=store, app_type="sales_app", on_subscription_changed=told.append) as c:
        c.sync_once(wide)
    assert len(told) == 1 and "reset" in told[0]
    assert [e.model for batch in wide.batches for e in batch] == ["res.partner", "sale.order"]


# -- stopping ---------------------------------------------------------------


def test_stopping_live_ends_the_waiting_long_poll(stack: Stack) -> None:
    with (
        FaultyProxy(stack.base_url) as proxy,
        client(stack, base_url=proxy.url, wait=20) as c,
    ):
        with Live(c, Applied()) as live:
            wait_until(lambda: proxy.pulls_forwarded >= 1 and proxy.in_flight == 1)
            time.sleep(0.3)  # well inside the 20 s window: the long poll is waiting
            started = time.monotonic()
            live.end(within=10)
            assert time.monotonic() - started < 10  # not the end of the window
        # The client closed its connection; the proxy closed its own to the server.
        wait_until(lambda: proxy.closed_while_waiting == 1, timeout=10, what="the close")
        wait_until(lambda: proxy.connections == 0, timeout=10)
        assert c.state().device_id == "phone"  # the client is still usable
    stack.write(("res.partner", 1, "create"))  # ends the server's own wait at once


def test_two_devices_stay_independent(stack: Stack, tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "shared.json")  # one file, two devices
    ids = write(stack.database_url, 6)
    a, b = Applied(), Applied(fail_on={2})
    with (
        client(stack, device_id="phone-a", store=store, limit=3) as phone_a,
        client(stack, device_id="phone-b", store=store, limit=3) as phone_b,
    ):
        phone_a.sync_once(a)
        with pytest.raises(RuntimeError):
            phone_b.sync_once(b)
        assert phone_a.state().last_event_id == ids[-1]
        assert phone_b.state().last_event_id == ids[2]
        phone_a.reset()  # does not touch phone-b
        assert phone_b.state().last_event_id == ids[2]
        phone_b.sync_once(b)
        phone_a.sync_once(a)
    assert a.ids == ids + ids  # again from the start after its reset
    assert b.ids == ids
    keys = set(json.loads((tmp_path / "shared.json").read_text()))
    assert {"odoo-sync:2:phone-a:next_sync_token", "odoo-sync:2:phone-b:next_sync_token"} <= keys


# -- errors, stores, device id ------------------------------------------------


def test_errors_are_typed(stack: Stack) -> None:
    with client(stack, app_type="no_such_app") as c, pytest.raises(InvalidRequest) as raised:
        c.sync_once(Applied())
    assert raised.value.status_code == 422
    assert raised.value.detail[0]["loc"] == ["body", "app_type"]
    assert "sales_app" in raised.value.detail[0]["valid"]

    with client(stack, session=stack.sid("alice")) as c, pytest.raises(Forbidden):
        c.sync_once(Applied())  # alice may not act for user 2
    with client(stack, device_id="never-pulled") as c, pytest.raises(NotFound):
        c.state()
    with (
        SyncClient("http://127.0.0.1:9", "sid", 2, "phone", "sales_app") as c,
        pytest.raises(NetworkError),
    ):
        c.sync_once(Applied())  # sync_once does not retry: the script decides
    for error in (InvalidRequest, Forbidden, NotFound, NetworkError, ResyncRequired):
        assert issubclass(error, SyncError)
    assert issubclass(ServerUnavailable, Unavailable) and issubclass(NetworkError, Unavailable)
    assert issubclass(SubscriptionChanged, SyncError)


def test_the_sync_client_refuses_a_coroutine_apply(stack: Stack) -> None:
    write(stack.database_url, 1)
    store = MemoryStore()

    async def apply(events: list[Event]) -> None:
        pass

    with client(stack, store=store) as c, pytest.raises(TypeError, match="AsyncSyncClient"):
        c.sync_once(apply)  # type: ignore[arg-type]
    assert store.get("odoo-sync:2:phone:next_sync_token") is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"detail": "Session expired", "code": "invalid_session"}, SessionExpired),
        (409, {"detail": "x", "code": "subscription_changed"}, SubscriptionChanged),
        (409, {"detail": "x", "code": "resync_required", "resync_required": True}, ResyncRequired),
        (503, {"detail": "Odoo is unavailable", "code": "odoo_unavailable"}, ServerUnavailable),
        (502, None, ServerUnavailable),
        (500, {"detail": "Internal error", "code": "internal_error"}, UnexpectedResponse),
        (200, None, UnexpectedResponse),
    ],
)
def test_answers_map_to_typed_errors(status: int, body: Any, error: type[SyncError]) -> None:
    response = httpx.Response(status, json=body) if body else httpx.Response(status, text="<h1>")
    with pytest.raises(error) as raised:
        interpret(response)
    assert raised.value.status_code == status


def test_json_file_store_replaces_the_file_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    store = JsonFileStore(path)
    assert store.get("k") is None
    store.set("k", "v1")
    assert JsonFileStore(path).get("k") == "v1"  # another process would see it

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.set("k", "v2")
    monkeypatch.undo()
    assert store.get("k") == "v1"  # the old content, whole
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left
    store.delete("k")
    assert store.get("k") is None and json.loads(path.read_text()) == {}


def test_stable_device_id_is_made_once_per_store(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "state.json")
    device = stable_device_id(store)
    assert device.startswith("python-") and len(device) == len("python-") + 36
    assert stable_device_id(JsonFileStore(tmp_path / "state.json")) == device
    assert stable_device_id(MemoryStore(), prefix="van") != device


# -- the async client ----------------------------------------------------------


async def test_async_client_acknowledges_after_apply(stack: Stack) -> None:
    ids = write(stack.database_url, 12)
    store = MemoryStore()
    seen: list[int] = []
    fail = True

    async def apply(events: list[Event]) -> None:
        nonlocal fail
        await asyncio.sleep(0)
        if fail and seen:
            fail = False
            raise RuntimeError("apply failed")
        seen.extend(e.id for e in events)

    kwargs: dict[str, Any] = {"store": store, "limit": 5}
    async with AsyncSyncClient(
        stack.base_url, stack.sid("admin"), 2, "tablet", "manager_app", **kwargs
    ) as c:
        with pytest.raises(RuntimeError):
            await c.sync_once(apply)
        assert seen == ids[:5]
        assert await c.sync_once(apply) == 7
        assert (await c.state()).last_event_id == ids[-1]
    assert seen == ids


async def test_async_live_rides_out_faults_and_stops_promptly(stack: Stack) -> None:
    ids = write(stack.database_url, 4)
    seen: list[int] = []
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    with FaultyProxy(stack.base_url) as proxy:
        proxy.faults.extend(["503", "drop", "503"])
        async with AsyncSyncClient(
            proxy.url,
            stack.sid("admin"),
            2,
            "tablet",
            "manager_app",
            limit=3,
            wait=20,
            sleep=record_sleep,
            random=lambda: 1.0,
            backoff=Backoff(base=0.1, cap=1),
        ) as c:
            stop = asyncio.Event()
            task = asyncio.create_task(
                c.live(lambda events: seen.extend(e.id for e in events), stop)
            )
            await eventually(lambda: set(ids) <= set(seen) and proxy.in_flight == 1)
            await asyncio.sleep(0.3)  # the long poll is waiting at the server
            stop.set()
            await asyncio.wait_for(task, 10)
            await eventually(lambda: proxy.closed_while_waiting == 1, within=10)
    assert delays == pytest.approx([0.1, 0.2, 0.4])
    assert sorted(set(seen)) == ids
    stack.write(("res.partner", 1, "create"))  # ends the server's own wait at once


async def test_cancelling_the_async_live_task_closes_its_request(stack: Stack) -> None:
    with FaultyProxy(stack.base_url) as proxy:
        async with AsyncSyncClient(
            proxy.url, stack.sid("admin"), 2, "tablet", "manager_app", wait=20
        ) as c:
            task = asyncio.create_task(c.live(lambda events: None))
            await eventually(lambda: proxy.in_flight == 1)
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await eventually(lambda: proxy.closed_while_waiting == 1, within=10)
    stack.write(("res.partner", 1, "create"))
