"""next_sync_token: at-least-once delivery, and tokens that are refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from odoo_webhook_server.demo.serving import serve_in_thread
from odoo_webhook_server.main import create_app
from odoo_webhook_server.storage.identity import read_identity
from odoo_webhook_server.sync.token import DatabaseIdentity

from .conftest import PostgresServer, Stack, settings_for


def test_lost_response_is_served_again(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"), ("sale.order", 1, "create"))
    first = stack.pull(limit=100).json()
    token = first["next_sync_token"]
    stack.write(("res.partner", 2, "create"))

    second = stack.pull(sync_token=token).json()  # this response is "lost"
    assert [e["record_id"] for e in second["events"]] == [2]

    retry = stack.pull(sync_token=token).json()  # the device retries with the same token
    assert retry["events"] == second["events"]

    after = stack.pull(sync_token=retry["next_sync_token"]).json()
    assert after["events"] == []


def test_acknowledged_position_is_the_state(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    first = stack.pull().json()
    with stack.client() as client:
        state = client.get("/api/v2/sync/state", params={"user_id": 2, "device_id": "device-1"})
    # Without a token, receiving is acknowledging (the guide's v2.0 clients).
    assert state.json()["last_event_id"] == first["events"][0]["id"]

    stack.write(("res.partner", 2, "create"))
    stack.pull(sync_token=first["next_sync_token"])  # delivers event 2, unacknowledged
    with stack.client() as client:
        state = client.get("/api/v2/sync/state", params={"user_id": 2, "device_id": "device-1"})
    assert state.json()["last_event_id"] == first["events"][0]["id"]


def test_clients_without_token_advance_on_every_pull(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    assert len(stack.pull().json()["events"]) == 1
    assert stack.pull().json()["events"] == []


def test_token_of_another_device_is_refused(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    token = stack.pull(device_id="phone-a").json()["next_sync_token"]
    response = stack.pull(device_id="phone-b", sync_token=token)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sync_token"]
    # Another user's device too: never someone else's position.
    response = stack.pull("alice", device_id="phone-a", sync_token=token)
    assert response.status_code == 422


def test_forged_and_malformed_tokens_are_refused(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    token = stack.pull().json()["next_sync_token"]
    version, payload, signature = token.split(".")
    fields = base64.urlsafe_b64decode(payload + "==").decode().split(":")
    fields[-2] = "0"  # rewind the cursor to the beginning
    forged_payload = base64.urlsafe_b64encode(":".join(fields).encode()).rstrip(b"=").decode()
    for bad in (f"{version}.{forged_payload}.{signature}", "12450", "v1.garbage", "v1.a.b"):
        response = stack.pull(sync_token=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["body", "sync_token"]


def test_token_from_another_copy_of_the_database_is_detected(
    stack: Stack, postgres: PostgresServer
) -> None:
    """A staging copy made with CREATE DATABASE ... TEMPLATE keeps Odoo's
    database.uuid; the token's epoch still tells the copies apart."""
    stack.write(("res.partner", 1, "create"))
    stack.pull()
    source = conninfo_to_dict(stack.database_url)["dbname"]
    copy_name = f"{source}_copy"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (source,),
        )
        conn.execute(f'CREATE DATABASE "{copy_name}" TEMPLATE "{source}"')
    copy_url = postgres.database_url(copy_name)
    try:
        stack.write(("res.partner", 2, "create"))
        token = stack.pull().json()["next_sync_token"]  # minted by the original
        with (
            serve_in_thread(create_app(settings_for(copy_url, stack.odoo_url))) as copy_base,
            httpx.Client(base_url=copy_base, headers={"X-Session-Id": stack.sid("admin")}) as c,
        ):
            body = {"user_id": 2, "device_id": "device-1", "app_type": "manager_app"}
            response = c.post("/api/v2/sync/pull", json={**body, "sync_token": token})
            assert response.status_code == 409
            assert response.json()["resync_required"] is True
            assert "another copy" in response.json()["detail"]
    finally:
        postgres.drop_database(copy_url)


def test_token_from_a_restored_history_is_detected(stack: Stack) -> None:
    """A token minted after the state the database now holds (restore of an
    older backup) cannot be trusted: 409 with resync_required."""
    stack.write(("res.partner", 1, "create"))
    first = stack.pull().json()
    stack.write(("res.partner", 2, "create"))
    later = stack.pull(sync_token=first["next_sync_token"]).json()
    # "Restore" the state row as it was before the second pull.
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE user_sync_state SET issued_txid = ack_txid,"
            " issued_event_id = last_event_id, issued_position = ack_position"
        )
    response = stack.pull(sync_token=later["next_sync_token"])
    assert response.status_code == 409
    assert response.json()["resync_required"] is True


def test_token_after_reset_asks_for_resync(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    token = stack.pull().json()["next_sync_token"]
    with stack.client() as client:
        client.post("/api/v2/sync/reset", params={"user_id": 2, "device_id": "device-1"})
    response = stack.pull(sync_token=token)
    assert response.status_code == 409
    assert response.json()["code"] == "resync_required"
    # Without the stale token the device starts again from the beginning.
    assert [e["record_id"] for e in stack.pull().json()["events"]] == [1]


def test_concurrent_pulls_with_one_token_both_stay_valid(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    token = stack.pull().json()["next_sync_token"]
    stack.write(("res.partner", 2, "create"))
    a = stack.pull(sync_token=token).json()
    stack.write(("res.partner", 3, "create"))
    b = stack.pull(sync_token=token).json()
    # The app kept the first answer's token: still valid, nothing is lost.
    after_a = stack.pull(sync_token=a["next_sync_token"])
    assert after_a.status_code == 200
    assert [e["record_id"] for e in after_a.json()["events"]] == [3]
    assert [e["record_id"] for e in b["events"]] == [2, 3]


def test_positions_and_tokens_of_the_linear_cursor_era_carry_on(stack: Stack) -> None:
    """Upgrade: a state row written before commit-order delivery (linear
    cursor only) and the v1 token the device holds go on exactly where they
    were: the events after the cursor come, nothing before, no resync."""
    stack.write(("res.partner", 1, "create"), ("res.partner", 2, "create"))
    stack.write(("res.partner", 3, "create"))
    stack.pull()  # creates the state
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        second = conn.execute("SELECT txid, id FROM update_webhook WHERE record_id = 2").fetchone()
        assert second is not None
        txid, event_id = second
        # As the previous server left it: acknowledged and issued after event 2.
        conn.execute(
            "UPDATE user_sync_state SET ack_txid = %s, last_event_id = %s, issued_txid = %s,"
            " issued_event_id = %s, ack_position = NULL, issued_position = NULL",
            (txid, event_id, txid, event_id),
        )
        identity = asyncio.run(_identity(stack.database_url))
        state_id = conn.execute("SELECT id FROM user_sync_state").fetchone()[0]  # type: ignore[index]
    payload = f"{identity.uuid}:{identity.epoch}:{state_id}:2:{txid}:{event_id}".encode()
    signature = hmac.new(identity.secret, payload, hashlib.sha256).digest()[:16]
    v1_token = f"v1.{_b64(payload)}.{_b64(signature)}"

    response = stack.pull(sync_token=v1_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resync_required"] is False
    assert [e["record_id"] for e in body["events"]] == [3]
    assert body["next_sync_token"].startswith("v2.")
    # The v1 token stays valid as the acknowledged position until the next one.
    again = stack.pull(sync_token=v1_token).json()
    assert [e["record_id"] for e in again["events"]] == [3]
    assert stack.pull(sync_token=again["next_sync_token"]).json()["events"] == []


async def _identity(database_url: str) -> DatabaseIdentity:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await read_identity(conn)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_tokens_stay_short_while_many_transactions_run(stack: Stack) -> None:
    """A position cut while many transactions run lists them all; its token
    names it by digest and stays within the 512 characters a pull accepts."""
    stack.write(("res.partner", 1, "create"))
    token = stack.pull().json()["next_sync_token"]
    running = [psycopg.connect(stack.database_url) for _ in range(45)]
    try:
        for conn in running:
            conn.execute("SELECT txid_current()")  # a writing transaction, open
        stack.write(("res.partner", 2, "create"))
        first = stack.pull(sync_token=token).json()
        assert [e["record_id"] for e in first["events"]] == [2]
        assert len(first["next_sync_token"]) <= 512
        stack.write(("res.partner", 3, "create"))
        again = stack.pull(sync_token=token).json()  # the first answer was lost
        assert [e["record_id"] for e in again["events"]] == [2, 3]
        # A superseded answer arriving late names, by digest, neither position
        # the state holds: it cannot be placed, so it is refused (resync).
        late = stack.pull(sync_token=first["next_sync_token"])
        assert late.status_code == 409 and late.json()["code"] == "resync_required"
        second = stack.pull(sync_token=again["next_sync_token"]).json()
        assert second["events"] == [] and len(second["next_sync_token"]) <= 512
    finally:
        for conn in running:
            conn.close()
    stack.write(("res.partner", 4, "create"))
    last = stack.pull(sync_token=second["next_sync_token"]).json()
    assert [e["record_id"] for e in last["events"]] == [4]


def test_the_state_names_the_last_event_acknowledged_beside_older_transactions(
    stack: Stack,
) -> None:
    """Another transaction older than the event (another device's pull, an
    import) is running: the device still reports the event it acknowledged."""
    with psycopg.connect(stack.database_url) as older:
        older.execute("SELECT txid_current()")  # writing, open, older than the event
        stack.write(("res.partner", 1, "create"))
        first = stack.pull().json()
        with stack.client() as client:
            state = client.get("/api/v2/sync/state", params={"user_id": 2, "device_id": "device-1"})
        assert state.json()["last_event_id"] == first["events"][0]["id"]
