"""Losing PostgreSQL under load: several devices pull with acknowledgement
(some long polling) while a writer commits events; PostgreSQL is killed
mid-load and restarted. While it is down every request gets 503 (never
500); once it is back the server serves again within seconds; and in the
end every device has received every committed event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.postgres import TemporaryPostgres
from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.schema import init_db

from .conftest import settings_for

DEVICES = 6
DOWN_SECONDS = 8.0
RECOVERY_BOUND_SECONDS = 2.0  # the target; measured figure is printed


@dataclass
class Response:
    started: float
    ended: float
    status: int
    code: str | None = None


@dataclass
class Device:
    name: str
    wait: int
    received: list[int] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    error: BaseException | None = None


@pytest.fixture
def cluster() -> Iterator[tuple[TemporaryPostgres, str]]:
    cluster = TemporaryPostgres()
    url = cluster.start()
    try:
        init_db(url)
        yield cluster, url
    finally:
        cluster.stop()


def _pull_until_done(
    device: Device, base: str, sid: str, writer_done: threading.Event, deadline: float
) -> None:
    token: str | None = None
    body: dict[str, object] = {
        "user_id": 2,
        "device_id": device.name,
        "app_type": "manager_app",
        "limit": 20,
        "wait": device.wait,
    }
    caught_up_after_writer = False
    try:
        with httpx.Client(base_url=base, headers={"X-Session-Id": sid}, timeout=30) as client:
            while not caught_up_after_writer and time.monotonic() < deadline:
                writer_finished = writer_done.is_set()
                started = time.monotonic()
                response = client.post(
                    "/api/v2/sync/pull", json={**body, "sync_token": token} if token else body
                )
                ended = time.monotonic()
                code = None
                if response.status_code != 200:
                    try:
                        code = response.json().get("code")
                    except ValueError:
                        code = "not json"
                device.responses.append(Response(started, ended, response.status_code, code))
                if response.status_code != 200:
                    time.sleep(0.02)
                    continue
                answer = response.json()
                device.received += [event["id"] for event in answer["events"]]
                token = answer["next_sync_token"]
                if writer_finished and not answer["events"] and not answer["has_more"]:
                    caught_up_after_writer = True
    except BaseException as exc:  # reported by the test
        device.error = exc


def _write_until(url: str, stop: threading.Event, failures: list[str]) -> None:
    """Commit 1-3 events per transaction, each of a new record, as the
    addon's capture does (NOTIFY included); retry while the database is down."""
    record = 0
    while not stop.is_set():
        changes = [
            CapturedChange("res.partner", record + i, "create") for i in range(1 + record % 3)
        ]
        statement, params = insert_events_sql(changes, user_id=2, now=utcnow())
        try:
            with (
                psycopg.connect(url, autocommit=True, connect_timeout=2) as conn,
                conn.transaction(),
            ):
                conn.execute(statement, params)
            record += len(changes)
        except psycopg.Error as exc:
            failures.append(type(exc).__name__)
            time.sleep(0.05)
            continue
        time.sleep(0.01)


def test_database_loss_under_load(cluster: tuple[TemporaryPostgres, str]) -> None:
    postgres, url = cluster
    odoo = FakeOdoo(db="odoo")
    from .conftest import ADMIN

    odoo.users.append(ADMIN)
    sid = odoo.login("admin")
    devices = [Device(f"device-{i}", wait=2 if i % 2 else 0) for i in range(DEVICES)]
    writer_stop = threading.Event()
    writer_done = threading.Event()
    write_failures: list[str] = []
    with (
        serve_in_thread(odoo.app()) as odoo_url,
        serve_in_thread(
            create_app(
                settings_for(
                    url,
                    odoo_url,
                    pool_timeout_seconds=1,
                    session_cache_seconds=600,
                    rate_limit_pull_per_minute=0,  # no 429 in this burst, where limits exist
                )
            )
        ) as base,
    ):
        deadline = time.monotonic() + 120
        threads = [
            threading.Thread(target=_pull_until_done, args=(d, base, sid, writer_done, deadline))
            for d in devices
        ]
        writer = threading.Thread(target=_write_until, args=(url, writer_stop, write_failures))
        writer.start()
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        killed_at = time.monotonic()
        postgres.kill()
        down_from = time.monotonic()
        time.sleep(DOWN_SECONDS)
        down_until = time.monotonic()
        postgres.restart()  # returns once pg_isready answers
        back_at = time.monotonic()
        time.sleep(3.0)
        writer_stop.set()
        writer.join(timeout=30)
        writer_done.set()
        for thread in threads:
            thread.join(timeout=130)

    with psycopg.connect(url) as conn:
        committed = [row[0] for row in conn.execute("SELECT id FROM update_webhook ORDER BY id")]

    responses = [r for d in devices for r in d.responses]
    statuses = {r.status for r in responses}
    during_outage = [r for r in responses if r.started >= down_from and r.ended <= down_until]
    first_ok_after = min(r.ended for r in responses if r.status == 200 and r.ended > back_at)
    recovery = first_ok_after - back_at
    print(
        f"\nkill took {down_from - killed_at:.2f} s; {len(during_outage)} requests while down,"
        f" statuses {sorted({r.status for r in during_outage})};"
        f" first 200 {recovery:.3f} s after PostgreSQL answered again;"
        f" {len(committed)} events committed, {len(write_failures)} failed writes;"
        f" {len(responses)} pulls in all"
    )

    for device in devices:
        assert device.error is None, (device.name, device.error)
    assert statuses <= {200, 503}, statuses
    assert during_outage, "no request was made while PostgreSQL was down"
    assert {(r.status, r.code) for r in during_outage} == {(503, "database_unavailable")}
    assert recovery <= RECOVERY_BOUND_SECONDS, recovery
    assert len(committed) > 100
    assert write_failures, "the writer never saw the outage"
    for device in devices:
        assert sorted(set(device.received)) == committed, device.name


def test_a_long_poll_at_rest_still_answers_when_the_database_goes_away(
    cluster: tuple[TemporaryPostgres, str],
) -> None:
    """A long poll that waited without reading its state (at rest) writes its
    acknowledgment when its window ends; if PostgreSQL went away meanwhile,
    it answers as any wait that ends: nothing new, with the token it came
    with (which still acknowledges), not an error."""
    postgres, url = cluster
    odoo = FakeOdoo(db="odoo")
    from .conftest import ADMIN

    odoo.users.append(ADMIN)
    sid = odoo.login("admin")
    body = {"user_id": 2, "device_id": "phone", "app_type": "manager_app"}
    with (
        serve_in_thread(odoo.app()) as odoo_url,
        serve_in_thread(create_app(settings_for(url, odoo_url, pool_timeout_seconds=1))) as base,
        httpx.Client(base_url=base, headers={"X-Session-Id": sid}, timeout=30) as client,
    ):
        token = client.post("/api/v2/sync/pull", json=body).json()["next_sync_token"]
        token = client.post("/api/v2/sync/pull", json={**body, "sync_token": token}).json()[
            "next_sync_token"
        ]
        threading.Timer(1.0, postgres.kill).start()
        response = client.post("/api/v2/sync/pull", json={**body, "sync_token": token, "wait": 3})
        assert response.status_code == 200, response.text
        assert response.json()["events"] == []
        assert response.json()["next_sync_token"] == token
        # The database is gone indeed: the next pull says so.
        assert client.post("/api/v2/sync/pull", json=body).status_code == 503
