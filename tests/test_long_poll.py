"""Long poll: an idle device waits in one request and is woken by NOTIFY."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.storage.notify import EXPIRY_TICK_SECONDS, ChangeNotifier

from .conftest import PostgresServer, Stack
from .test_metrics import scrape, value


def test_empty_pull_waits_and_wakes_on_a_change(stack: Stack) -> None:
    stack.pull()  # create the state
    timer = threading.Timer(0.7, stack.write, args=(("res.partner", 1, "create"),))
    started = time.monotonic()
    timer.start()
    body = stack.pull(wait=90).json()
    elapsed = time.monotonic() - started
    timer.join()
    assert [e["record_id"] for e in body["events"]] == [1]
    assert 0.5 < elapsed < 60  # woken by the change, not by the end of the window


def test_wait_ends_empty_when_nothing_changes(stack: Stack) -> None:
    started = time.monotonic()
    body = stack.pull(wait=1).json()
    assert body["events"] == [] and body["has_updates"] is False
    assert time.monotonic() - started >= 0.9


def test_pending_events_are_answered_at_once(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    started = time.monotonic()
    assert stack.pull(wait=90).json()["events"]
    assert time.monotonic() - started < 60  # answered without waiting the window


def test_many_idle_devices_wait_without_holding_connections(stack: Stack) -> None:
    """More waiting devices than pooled connections (10): all are served."""
    results: dict[str, list[int]] = {}

    def wait(device: str) -> None:
        body = stack.pull(device_id=device, wait=20).json()
        results[device] = [e["record_id"] for e in body["events"]]

    for i in range(25):
        stack.pull(device_id=f"idle-{i}")
    threads = [threading.Thread(target=wait, args=(f"idle-{i}",)) for i in range(25)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    stack.write(("res.partner", 7, "create"))
    for thread in threads:
        thread.join(timeout=30)
    assert results == {f"idle-{i}": [7] for i in range(25)}


def _sync_count(stack: Stack, device: str) -> int:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT sync_count FROM user_sync_state WHERE device_id = %s", (device,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _write_in_a_moment(stack: Stack, *changes: tuple[str, int, str]) -> list[float]:
    """Commit `changes` in 0.5 s; the list receives the commit's time."""
    committed: list[float] = []

    def write() -> None:
        stack.write(*changes)
        committed.append(time.monotonic())

    threading.Timer(0.5, write).start()
    return committed


@pytest.mark.parametrize("where", ["same database", "another database"])
def test_a_commit_reaches_a_waiting_device_while_another_transaction_stays_open(
    stack: Stack, postgres: PostgresServer, where: str
) -> None:
    """Commit order: a writing transaction left open (a long import, a cron,
    another database of the cluster) holds nothing back."""
    token = stack.pull().json()["next_sync_token"]
    other_url = postgres.create_database() if where == "another database" else stack.database_url
    try:
        with psycopg.connect(other_url) as open_tx:
            open_tx.execute("SELECT txid_current()")  # takes a transaction id, stays open
            committed = _write_in_a_moment(stack, ("res.partner", 1, "create"))
            body = stack.pull(wait=30, sync_token=token).json()
            answered = time.monotonic()
            assert [e["record_id"] for e in body["events"]] == [1]
            assert answered - committed[0] < 1.0
    finally:
        if other_url != stack.database_url:
            postgres.drop_database(other_url)


def test_a_long_transaction_wakes_its_devices_when_it_commits(stack: Stack) -> None:
    token = stack.pull().json()["next_sync_token"]
    with psycopg.connect(stack.database_url) as long_tx:
        sql, params = insert_events_sql(
            [CapturedChange("res.partner", 5, "write", ("name",))], user_id=2, now=utcnow()
        )
        long_tx.execute(sql, params)
        stack.write(("res.partner", 6, "create"))  # commits first, served first
        first = stack.pull(wait=30, sync_token=token).json()
        assert [e["record_id"] for e in first["events"]] == [6]
        threading.Timer(0.5, long_tx.commit).start()
        second = stack.pull(wait=30, sync_token=first["next_sync_token"]).json()
    assert [e["record_id"] for e in second["events"]] == [5]


def test_a_change_outside_the_subscription_does_not_wake_the_device(stack: Stack) -> None:
    """A sale.order device sleeps through partner changes: it is not woken
    (no second read of its state), and not answered early."""
    device: dict[str, Any] = {"device_id": "orders-only", "models_filter": ["sale.order"]}
    token = stack.pull(**device).json()["next_sync_token"]
    reads = _sync_count(stack, "orders-only")
    woken_before = value(scrape(stack.base_url), "odoo_sync_shared_reads_total", what="pulls")
    for delay in (0.3, 0.6, 0.9):
        threading.Timer(
            delay, stack.write, args=(("res.partner", int(delay * 10), "create"),)
        ).start()
    started = time.monotonic()
    body = stack.pull(wait=2, sync_token=token, **device).json()
    assert body["events"] == [] and time.monotonic() - started >= 1.9
    assert _sync_count(stack, "orders-only") == reads + 1  # read once, never woken
    woken = value(scrape(stack.base_url), "odoo_sync_shared_reads_total", what="pulls")
    assert woken == woken_before
    # Its own model wakes it at once.
    committed = _write_in_a_moment(stack, ("sale.order", 1, "create"))
    body = stack.pull(wait=30, sync_token=body["next_sync_token"], **device).json()
    assert [e["record_id"] for e in body["events"]] == [1]
    assert time.monotonic() - committed[0] < 1.0


def test_a_commit_without_a_notification_still_wakes_the_device(stack: Stack) -> None:
    """Events committed with the notification trigger off (replication role,
    a lost notification) are found by the server's probe."""
    token = stack.pull().json()["next_sync_token"]

    def write_silently() -> None:
        sql, params = insert_events_sql(
            [CapturedChange("res.partner", 9, "create")], user_id=2, now=utcnow()
        )
        with psycopg.connect(stack.database_url) as conn:
            conn.execute("SET session_replication_role = replica")  # no triggers
            conn.execute(sql, params)

    threading.Timer(0.5, write_silently).start()
    started = time.monotonic()
    body = stack.pull(wait=30, sync_token=token).json()
    assert [e["record_id"] for e in body["events"]] == [9]
    assert time.monotonic() - started < 5  # the probe, not the end of the window


def test_an_idle_device_re_polls_without_reading_events_yet_misses_nothing(
    stack: Stack,
) -> None:
    """A device that re-polls from where the server left it, while nothing
    was announced for its models, is served without an events query
    (odoo_sync_pull_batches_total{what="quiet"}); an announced commit, and
    one committed without a notification (found by the probe), still reach
    it."""
    token = stack.pull().json()["next_sync_token"]
    quiet_before = value(scrape(stack.base_url), "odoo_sync_pull_batches_total", what="quiet")
    for _ in range(4):  # idle: each wait window ends empty, the device pulls again
        body = stack.pull(wait=0.3, sync_token=token).json()
        assert body["events"] == []
        token = body["next_sync_token"]
    quiet = value(scrape(stack.base_url), "odoo_sync_pull_batches_total", what="quiet")
    assert quiet >= quiet_before + 3

    # Committed between two of its requests: announced while nobody waited.
    stack.write(("res.partner", 3, "create"))
    time.sleep(0.3)  # the notification is in
    started = time.monotonic()
    body = stack.pull(wait=30, sync_token=token).json()
    assert [e["record_id"] for e in body["events"]] == [3]
    assert time.monotonic() - started < 1.0
    token = body["next_sync_token"]

    committed = _write_in_a_moment(stack, ("res.partner", 1, "create"))
    body = stack.pull(wait=30, sync_token=token).json()
    assert [e["record_id"] for e in body["events"]] == [1]
    assert time.monotonic() - committed[0] < 1.0
    token = body["next_sync_token"]

    sql, params = insert_events_sql(
        [CapturedChange("res.partner", 2, "create")], user_id=2, now=utcnow()
    )
    with psycopg.connect(stack.database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # no notification
        conn.execute(sql, params)
    started = time.monotonic()
    records: list[int] = []
    while not records and time.monotonic() - started < 10:
        body = stack.pull(wait=5, sync_token=token).json()
        records, token = [e["record_id"] for e in body["events"]], body["next_sync_token"]
    assert records == [2]
    assert time.monotonic() - started < 5  # the probe, not the end of a window


async def test_wait_windows_end_together_on_a_tick_never_early() -> None:
    """ChangeNotifier.wait ends an unanswered window on a multiple of
    EXPIRY_TICK_SECONDS, rounded up: the devices whose windows end together
    pull again together (read as one batch), none is answered early, none
    more than a tick late."""
    notifier = ChangeNotifier("postgresql:///unused")  # not started: listening by hand
    notifier.listening = True
    loop = asyncio.get_running_loop()
    tick = EXPIRY_TICK_SECONDS
    for seconds in (0.13, 0.21, 0.05, 0.34, 0.18):
        waiter = notifier.subscribe()
        started = loop.time()
        assert not await notifier.wait(waiter, seconds)
        ended = loop.time()
        notifier.unsubscribe(waiter)
        assert started + seconds <= ended <= started + seconds + tick + 0.05
        assert abs(ended / tick - round(ended / tick)) * tick < 0.005, (seconds, ended)


def _state(stack: Stack, device_id: str = "device-1") -> dict[str, Any]:
    with stack.client() as client:
        response = client.get("/api/v2/sync/state", params={"user_id": 2, "device_id": device_id})
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


def test_a_long_poll_at_rest_acknowledges_with_its_answer_and_loses_nothing(
    stack: Stack,
) -> None:
    """A long poll that sends back the token of the position the server left
    its state at, while nothing was announced for its models, waits without
    reading its state (odoo_sync_pull_batches_total{what="at_rest"}). Its
    answer, a change or the end of its window, records the acknowledgment;
    an answer that is lost is served again."""
    stack.write(("res.partner", 1, "create"))
    first = stack.pull().json()
    acknowledged_id = first["events"][0]["id"]
    # Read once with its token: the server knows where it left the state.
    token = stack.pull(sync_token=first["next_sync_token"]).json()["next_sync_token"]
    rested_before = value(scrape(stack.base_url), "odoo_sync_pull_batches_total", what="at_rest")

    committed = _write_in_a_moment(stack, ("res.partner", 2, "create"))
    second = stack.pull(wait=30, sync_token=token).json()
    assert [e["record_id"] for e in second["events"]] == [2]
    assert time.monotonic() - committed[0] < 1.0
    rested = value(scrape(stack.base_url), "odoo_sync_pull_batches_total", what="at_rest")
    assert rested == rested_before + 1
    state = _state(stack)
    assert state["last_event_id"] == acknowledged_id  # the token it sent, written with the answer
    assert state["sync_count"] == 3

    # The answer is lost: the device asks again from the same token.
    again = stack.pull(wait=30, sync_token=token).json()
    assert again["events"] == second["events"]
    token = again["next_sync_token"]

    # At rest again, and nothing comes: the answer at the end of the window
    # writes what the device acknowledged, and when.
    before = _state(stack)
    empty = stack.pull(wait=0.5, sync_token=token).json()
    assert empty["events"] == [] and empty["has_updates"] is False
    after = _state(stack)
    assert after["last_event_id"] == second["events"][0]["id"]
    assert after["sync_count"] == before["sync_count"] + 1
    assert after["last_sync_time"] > before["last_sync_time"]
    rested_after = value(scrape(stack.base_url), "odoo_sync_pull_batches_total", what="at_rest")
    assert rested_after == rested + 1

    # The next answer's token is that of the same position, still at rest.
    committed = _write_in_a_moment(stack, ("res.partner", 3, "create"))
    body = stack.pull(wait=30, sync_token=empty["next_sync_token"]).json()
    assert [e["record_id"] for e in body["events"]] == [3]
    assert time.monotonic() - committed[0] < 1.0


def test_a_long_poll_at_rest_sees_a_reset_made_while_it_waits(stack: Stack) -> None:
    """Its state reset by an administrator during the wait: the commit that
    wakes it finds the state written since, and the device is told to
    resync, as a pull that read its state would be."""
    stack.write(("res.partner", 1, "create"))
    token = stack.pull().json()["next_sync_token"]

    def reset_then_write() -> None:
        with stack.client() as client:
            response = client.post(
                "/api/v2/sync/reset", params={"user_id": 2, "device_id": "device-1"}
            )
            assert response.status_code == 200
        stack.write(("res.partner", 2, "create"))

    threading.Timer(0.5, reset_then_write).start()
    response = stack.pull(wait=30, sync_token=token)
    assert response.status_code == 409
    assert response.json()["resync_required"] is True
