"""Nothing is skipped: events of transactions that commit out of id order,
concurrent writers of very different lengths, rolled-back transactions."""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import cast

import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.sync import engine

from .conftest import Stack


def _insert(conn: psycopg.Connection[tuple[object, ...]], record_ids: list[int]) -> list[int]:
    """The addon's INSERT; returns the event ids."""
    sql, params = insert_events_sql(
        [CapturedChange("res.partner", rid, "create") for rid in record_ids],
        user_id=2,
        now=utcnow(),
    )
    return [cast(int, row[0]) for row in conn.execute(sql + " RETURNING id", params).fetchall()]


def test_a_long_transaction_committing_late_is_not_skipped(stack: Stack) -> None:
    """Event 1 (long transaction) commits after event 2 (short one) was
    committed and served: a plain `id > last` or `(txid, id) > last` cursor
    would lose event 1. Event 2 is not held back by the open transaction."""
    with psycopg.connect(stack.database_url) as long_tx:
        _insert(long_tx, [1])  # gets the lower id and txid, stays open
        stack.write(("res.partner", 2, "create"))  # commits first
        first = stack.pull().json()
        assert [e["record_id"] for e in first["events"]] == [2]
        assert stack.pull(sync_token=first["next_sync_token"]).json()["events"] == []
        long_tx.commit()
    second = stack.pull(sync_token=first["next_sync_token"]).json()
    assert [e["record_id"] for e in second["events"]] == [1]
    assert stack.pull(sync_token=second["next_sync_token"]).json()["events"] == []


def test_rolled_back_events_never_appear(stack: Stack) -> None:
    with psycopg.connect(stack.database_url) as conn:
        _insert(conn, [10, 11])
        conn.rollback()
    stack.write(("res.partner", 12, "create"))
    assert [e["record_id"] for e in stack.pull().json()["events"]] == [12]


def test_concurrent_writers_and_pullers_deliver_every_committed_event(stack: Stack) -> None:
    """Writers of very different lengths (some hold their inserts open for
    1-1.5 s) race pullers with small batches; token devices lose a quarter
    of their answers. After quiescence every device has every committed
    event exactly once (no-token devices) or at least once (token devices),
    and nothing of a rolled-back transaction."""
    rng = random.Random(2026)
    record_ids = itertools.count(1)
    ids_lock = threading.Lock()
    committed: set[int] = set()
    rolled_back: set[int] = set()
    commit_order: list[int] = []  # lowest event id of each committed transaction
    outcome_lock = threading.Lock()

    def writer(seed: int) -> None:
        local = random.Random(seed)
        with psycopg.connect(stack.database_url) as conn:
            for _ in range(12):
                with ids_lock:
                    batch = [next(record_ids) for _ in range(local.randint(1, 4))]
                event_ids = _insert(conn, batch)
                roll = local.random()
                time.sleep(local.uniform(1.0, 1.5) if roll < 0.15 else local.uniform(0, 0.03))
                if local.random() < 0.2:
                    conn.rollback()
                    with outcome_lock:
                        rolled_back.update(batch)
                else:
                    conn.commit()
                    with outcome_lock:
                        committed.update(batch)
                        commit_order.append(min(event_ids))

    devices = {f"plain-{i}": False for i in range(3)} | {f"acked-{i}": True for i in range(3)}
    received: dict[str, list[int]] = {name: [] for name in devices}
    writers_done = threading.Event()
    failures: list[str] = []

    lost: dict[str, int] = dict.fromkeys(devices, 0)

    def puller(device: str, uses_token: bool) -> None:
        losses = random.Random(device)
        token = None
        stable_pulls = 0
        give_up_at = float("inf")
        with stack.client("admin") as client:
            while True:
                body: dict[str, object] = {
                    "user_id": 2,
                    "device_id": device,
                    "app_type": "manager_app",
                    "limit": 7,
                }
                if uses_token and token:
                    body["sync_token"] = token
                if writers_done.is_set() and give_up_at == float("inf"):
                    give_up_at = time.monotonic() + 60  # then a missing event fails the test
                response = client.post("/api/v2/sync/pull", json=body)
                if response.status_code != 200:
                    failures.append(f"{device}: {response.status_code} {response.text}")
                    return
                data = response.json()
                if uses_token and token and data["events"] and losses.random() < 0.25:
                    lost[device] += 1  # the answer never reached the app: asked again
                    continue
                received[device] += [e["record_id"] for e in data["events"]]
                token = data["next_sync_token"]
                # Quiescence: the writers are done and everything committed
                # has arrived (a pull may briefly see less while another
                # device's pull transaction, older than the last commit, runs).
                if writers_done.is_set():
                    stable_pulls += set(received[device]) >= committed
                    if stable_pulls >= 2 or time.monotonic() > give_up_at:
                        return
                time.sleep(rng.uniform(0, 0.05))

    writer_threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(6)]
    puller_threads = [threading.Thread(target=puller, args=item) for item in devices.items()]
    for thread in writer_threads + puller_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    writers_done.set()
    for thread in puller_threads:
        thread.join(timeout=120)
    assert not failures
    assert committed and rolled_back
    assert all(lost[f"acked-{i}"] for i in range(3)), lost
    for device, uses_token in devices.items():
        got = received[device]
        assert set(got) == committed, device
        assert not set(got) & rolled_back, device
        if not uses_token:
            assert len(got) == len(set(got)), f"{device} received duplicates"

    # The race really happened: some transaction committed after one holding
    # higher event ids had committed, which an `id > last` cursor can lose.
    assert commit_order != sorted(commit_order)


def test_open_writing_transactions_hold_nothing_back(stack: Stack) -> None:
    """Neither an older nor a newer writing transaction, open, delays the
    events of one that has committed; theirs come when they commit."""
    with psycopg.connect(stack.database_url) as older_tx:
        older_tx.execute("SELECT txid_current()")  # writes, stays open
        stack.write(("res.partner", 1, "create"))
        with psycopg.connect(stack.database_url) as newer_tx:
            _insert(newer_tx, [2])
            first = stack.pull().json()
            assert [e["record_id"] for e in first["events"]] == [1]
            newer_tx.commit()
        _insert(older_tx, [3])
        second = stack.pull(sync_token=first["next_sync_token"]).json()
        assert [e["record_id"] for e in second["events"]] == [2]
        older_tx.commit()
    third = stack.pull(sync_token=second["next_sync_token"]).json()
    assert [e["record_id"] for e in third["events"]] == [3]


def test_server_does_not_hold_back_on_idle_clients(stack: Stack) -> None:
    """A reader transaction (no writes) does not delay delivery."""
    stack.write(("res.partner", 1, "create"))
    with psycopg.connect(stack.database_url) as reader:
        reader.execute("SELECT count(*) FROM update_webhook").fetchone()
        assert [e["record_id"] for e in stack.pull().json()["events"]] == [1]


@pytest.mark.parametrize("optimistic_attempts", [engine.OPTIMISTIC_ATTEMPTS, 0])
def test_concurrent_pulls_of_one_device_never_serve_an_event_twice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, optimistic_attempts: int
) -> None:
    """Pulls of one device that run at the same time are serialised: a
    device without tokens (it acknowledges by receiving) gets every event
    exactly once, however many of its pulls race. A pull does not lock the
    device's state while it reads; it writes its position only if the
    state is still the one it read, and reads again otherwise; after
    OPTIMISTIC_ATTEMPTS (0: at once) it locks the state instead."""
    monkeypatch.setattr(engine, "OPTIMISTIC_ATTEMPTS", optimistic_attempts)
    stack.write(*[("res.partner", record_id, "create") for record_id in range(1, 201)])
    received: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def puller() -> None:
        with stack.client("admin") as client:
            start.wait()
            for _ in range(25):
                response = client.post(
                    "/api/v2/sync/pull",
                    json={
                        "user_id": 2,
                        "device_id": "racing",
                        "app_type": "manager_app",
                        "limit": 3,
                    },
                )
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                    return
                with lock:
                    received.extend(e["record_id"] for e in response.json()["events"])

    threads = [threading.Thread(target=puller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    duplicates = sorted(r for r in set(received) if received.count(r) > 1)
    assert not duplicates, f"served twice: {duplicates[:10]}"
    assert sorted(received) == list(range(1, 201))
