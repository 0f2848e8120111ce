"""Long poll: an idle device waits in one request and is woken by NOTIFY."""

from __future__ import annotations

import threading
import time

import psycopg

from .conftest import Stack


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


def test_event_held_back_by_an_older_transaction_is_served_when_it_ends(stack: Stack) -> None:
    """The NOTIFY came while an older writing transaction (that writes no
    event, so sends no NOTIFY) still held the event back."""
    stack.pull()
    with psycopg.connect(stack.database_url) as older:
        older.execute("SELECT txid_current()")  # a writing transaction, open
        stack.write(("res.partner", 1, "create"))
        threading.Timer(1.0, older.commit).start()
        started = time.monotonic()
        body = stack.pull(wait=90).json()
    assert [e["record_id"] for e in body["events"]] == [1]
    assert time.monotonic() - started < 60  # rechecked, not left to the end of the window
