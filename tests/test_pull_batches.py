"""Pulls that arrive together are read as one (engine.pull_many), against a
real PostgreSQL: each gets exactly what it would have got on its own, its
state is written, and what a batch cannot serve is left to `engine.pull`."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from odoo_webhook_core.capture import CapturedChange, insert_events_sql
from odoo_webhook_core.clock import utcnow

from odoo_webhook_server.storage import events as event_store
from odoo_webhook_server.storage import sync_state as state_store
from odoo_webhook_server.storage.identity import read_identity
from odoo_webhook_server.storage.notify import ChangeNotifier
from odoo_webhook_server.storage.odoo_users import UserAccess
from odoo_webhook_server.sync import engine
from odoo_webhook_server.sync.position import START

from .conftest import write_events


def _request(device: str, token: str | None = None, **fields: Any) -> engine.PullRequest:
    return engine.PullRequest(
        user_id=2,
        device_id=device,
        app_type=fields.pop("app_type", "manager_app"),
        limit=fields.pop("limit", 100),
        sync_token=token,
        **fields,
    )


async def _pull_many(database_url: str, requests: list[engine.PullRequest]) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        identity = await read_identity(conn)
        return await engine.pull_many(conn, identity, [(r, None) for r in requests])


async def _pull(database_url: str, request: engine.PullRequest) -> engine.PullResult:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await engine.pull(conn, await read_identity(conn), request)


def _quiet_states(database_url: str) -> tuple[ChangeNotifier, engine.QuietStates]:
    """QuietStates on a notifier that is not started: its wake() plays the
    listener, which counts as up."""
    notifier = ChangeNotifier(database_url)
    notifier.listening = True
    return notifier, engine.QuietStates(lambda: notifier.changes, notifier.quiet_since)


def _records(result: engine.PullResult | None) -> list[int]:
    assert result is not None
    return [e.record_id for e in result.events]


def test_a_batch_serves_each_pull_as_it_would_be_served_alone(database_url: str) -> None:
    devices = [f"phone-{i}" for i in range(6)]
    write_events(database_url, ("res.partner", 1, "create"), ("sale.order", 2, "create"))
    # First pulls are made on their own (the batch leaves new devices alone).
    assert asyncio.run(_pull_many(database_url, [_request(d) for d in devices])) == [None] * 6
    first = {d: asyncio.run(_pull(database_url, _request(d))) for d in devices}
    assert all(_records(r) == [1, 2] for r in first.values())
    write_events(database_url, ("res.partner", 3, "write"))
    write_events(database_url, ("sale.order", 4, "write"))

    requests = [_request(d, first[d].next_sync_token) for d in devices[:4]]
    requests.append(_request(devices[4], first[devices[4]].next_sync_token, limit=1))
    requests.append(_request(devices[5]))  # no token: acknowledges by receiving
    requests.append(_request(devices[0], first[devices[0]].next_sync_token))  # twice
    requests.append(_request("phone-new"))  # never pulled
    requests.append(_request(devices[1], "v2.forged"))  # refused: on its own, which says why
    outcomes = asyncio.run(_pull_many(database_url, requests))

    assert [_records(o) for o in outcomes[:4]] == [[3, 4]] * 4
    assert _records(outcomes[4]) == [3] and outcomes[4].has_more
    assert _records(outcomes[5]) == [3, 4]
    assert outcomes[6:] == [None, None, None]
    # The states were written: the next pulls, alone, go on from there.
    after = asyncio.run(_pull(database_url, _request(devices[0], outcomes[0].next_sync_token)))
    assert _records(after) == []
    more = asyncio.run(_pull(database_url, _request(devices[4], outcomes[4].next_sync_token)))
    assert _records(more) == [4]
    assert _records(asyncio.run(_pull(database_url, _request(devices[5])))) == []


def test_a_state_written_meanwhile_is_left_to_a_pull_of_its_own(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch writes a state only if it is still the version it read."""
    write_events(database_url, ("res.partner", 1, "create"))
    token = asyncio.run(_pull(database_url, _request("phone"))).next_sync_token
    sql, params = insert_events_sql(
        [CapturedChange("res.partner", 2, "create")], user_id=2, now=utcnow()
    )

    async def race() -> list[Any]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            identity = await read_identity(conn)
            await conn.execute(sql, params)
            batch = engine.pull_many(conn, identity, [(_request("phone", token), None)])
            # An administrator's write lands between the batch's read and write.
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True
            ) as other:
                original = event_store.pages_after

                async def page_then_write(*args: Any, **kwargs: Any) -> Any:
                    page = await original(*args, **kwargs)
                    await other.execute("UPDATE user_sync_state SET is_active = true")
                    return page

                with monkeypatch.context() as patch:
                    patch.setattr(event_store, "pages_after", page_then_write)
                    return await batch

    assert asyncio.run(race()) == [None]
    assert _records(asyncio.run(_pull(database_url, _request("phone", token)))) == [2]


def test_a_state_is_written_only_at_its_own_version(database_url: str) -> None:
    """A state's version is "xmin@ctid", and record_pulls writes the row at
    that place only if it is still that version of that state. Rows written
    by one batch share their xmin, and VACUUM FULL, CLUSTER or pg_repack move
    rows while keeping it: a place may then hold another device's row at
    the same xmin, which must not be written in its stead; and a place freed
    by vacuum may hold a later version of the same row, which must not be
    written for a pull that read an older one."""
    write_events(database_url, ("res.partner", 1, "create"))

    async def run() -> tuple[dict[int, str], dict[int, str], list[str], list[str]]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            identity = await read_identity(conn)
            for device in ("phone-a", "phone-b"):  # first pulls: alone
                await engine.pull(conn, identity, _request(device))
            write_events(database_url, ("res.partner", 2, "write"))
            served = await engine.pull_many(
                conn, identity, [(_request("phone-a"), None), (_request("phone-b"), None)]
            )
            assert [_records(r) for r in served] == [[2], [2]]
            reads = await state_store.read_for_pulls(
                conn, [(2, "phone-a", "manager_app"), (2, "phone-b", "manager_app")]
            )
            a, b = (read.state for read in reads)
            version_a, version_b = (read.version for read in reads)
            assert a is not None and b is not None and version_a and version_b
            assert version_a.split("@")[0] == version_b.split("@")[0]  # one batch, one xmin
            elsewhere = state_store.PullRecord(
                a.id, version_b, "manager_app", None, START, START
            )  # a's state, at the place and xmin of b's row
            xmin_a, place_a = version_a.split("@")
            stale = state_store.PullRecord(
                a.id, f"{int(xmin_a) - 1}@{place_a}", "manager_app", None, START, START
            )  # a's place, as an older version of a's row (its slot reused since)
            refused = await state_store.record_pulls(conn, [elsewhere, stale], utcnow())
            at_home = state_store.PullRecord(
                a.id, version_a, "manager_app", None, a.acknowledged, a.issued
            )
            written = await state_store.record_pulls(conn, [at_home], utcnow())
            after = await state_store.read_for_pulls(
                conn, [(2, "phone-a", "manager_app"), (2, "phone-b", "manager_app")]
            )
            issued = [read.state.issued.text() for read in after if read.state]
            return refused, written, issued, [a.issued.text(), b.issued.text()]

    refused, written, issued, before = asyncio.run(run())
    assert refused == {}
    assert list(written) != [] and issued == before  # b's row untouched


def test_plans_made_on_an_empty_table_still_use_its_indexes(database_url: str) -> None:
    """A server started before its devices prepares the batch statements
    while user_sync_state and update_webhook are empty and never analyzed
    (generic plans, kept until the table is analyzed): they must still find
    each state and each event by index, not scan the tables, once they have
    thousands of rows."""

    async def run() -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("SET plan_cache_mode = force_generic_plan")  # as storage.pool
            identity = await read_identity(conn)
            requests = [_request(f"early-{i}") for i in range(8)]
            for request in requests:  # prepared (psycopg: after 5 runs) while nearly empty
                await engine.pull(conn, identity, request)
                await engine.pull_many(conn, identity, [(request, None)])
            await conn.execute(
                """INSERT INTO user_sync_state (user_id, device_id, app_type, last_event_id,
                          sync_count, is_active, create_uid, create_date, write_uid, write_date)
                   SELECT 2, 'later-' || g, 'manager_app', 0, 0, true, 2, now(), 2, now()
                     FROM generate_series(1, 5000) AS g"""
            )
            # Events the batch serves, among thousands (one transaction).
            await conn.execute(
                """INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                          is_archived, txid)
                   SELECT 'res.partner', g, 'write', now(), 2, false, txid_current()
                     FROM generate_series(1, 5000) AS g"""
            )

            async def seq_scans() -> dict[str, int]:
                await conn.execute("SELECT pg_stat_force_next_flush()")
                cur = await conn.execute(
                    """SELECT relname, seq_scan FROM pg_stat_user_tables
                        WHERE relname IN ('user_sync_state', 'update_webhook')"""
                )
                return {str(name): int(count) for name, count in await cur.fetchall()}

            before = await seq_scans()
            outcomes = await engine.pull_many(conn, identity, [(r, None) for r in requests])
            assert all(outcome is not None for outcome in outcomes)
            assert all(len(outcome.events) == 100 for outcome in outcomes if outcome)
            after = await seq_scans()
            return {name: after[name] - before[name] for name in after}

    assert asyncio.run(run()) == {"user_sync_state": 0, "update_webhook": 0}


def test_one_statement_reads_the_pages_of_groups_of_every_kind(database_url: str) -> None:
    """pages_after: groups of all models and of some, at the start and in the
    middle of a batch, with different limits, one whose events were purged,
    read in one statement: each page is the one page_after reads for that
    group alone."""
    write_events(database_url, ("res.partner", 1, "create"), ("sale.order", 2, "create"))
    write_events(database_url, ("stock.picking", 3, "create"), ("res.partner", 4, "write"))
    write_events(database_url, ("sale.order", 5, "write"))
    sales = ("res.partner", "sale.order")

    async def run() -> tuple[list[event_store.Page], list[event_store.Page]]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            # A device of `sales` that received event 1 of a batch of 1, 2, 4, 5.
            first = await event_store.page_after(conn, START, sales, 2)
            cut = engine.advance(START, first, 1, START)[1]
            write_events(database_url, ("res.partner", 6, "write"))  # after the batch
            await conn.execute(
                """INSERT INTO update_webhook_purge (model, txid, event_id, purged_at)
                   SELECT 'stock.picking', txid, id, now() FROM update_webhook
                    WHERE model = 'stock.picking'"""
            )
            wanted = [
                event_store.PageWanted(START, None, 10),
                event_store.PageWanted(START, None, 3),
                event_store.PageWanted(cut, sales, 10),
                event_store.PageWanted(cut, sales, 2),
                event_store.PageWanted(cut, ("sale.order",), 10),
                event_store.PageWanted(cut, None, 10),  # stock.picking was purged
                event_store.PageWanted(cut, ("x.none",), 10),
                event_store.PageWanted(START, ("res.partner",), 10),
            ]
            together = await event_store.pages_after(conn, wanted)
            alone = [
                await event_store.page_after(conn, w.position, w.models, w.limit) for w in wanted
            ]
            return together, alone

    together, alone = asyncio.run(run())

    def seen(page: event_store.Page) -> tuple[list[int], list[bool], str | None]:
        return [e.record_id for e in page.events], page.in_top, page.lost

    assert [seen(page) for page in together] == [seen(page) for page in alone]
    assert [seen(page) for page in together] == [
        ([1, 2, 3, 4, 5, 6], [False] * 6, None),
        ([1, 2, 3], [False] * 3, None),
        ([2, 4, 5, 6], [True, True, True, False], None),
        ([2, 4], [True, True], None),
        ([2, 5], [True, True], None),
        ([], [], "stock.picking"),
        ([], [], None),
        ([1, 4, 6], [False] * 3, None),
    ]


def test_a_batch_reads_devices_whatever_their_ids(database_url: str) -> None:
    """The batch statements take their rows as JSON: ids with quotes,
    backslashes, commas, braces and any Unicode find their states."""
    devices = ['a"b', "c\\d", "e,f", "{g}", "h'i", "j k", "é-😀", "\u2028", "null"]
    write_events(database_url, ("res.partner", 1, "create"))
    first = {d: asyncio.run(_pull(database_url, _request(d))) for d in devices}
    assert all(_records(r) == [1] for r in first.values())
    write_events(database_url, ("res.partner", 2, "write"))
    outcomes = asyncio.run(
        _pull_many(database_url, [_request(d, first[d].next_sync_token) for d in devices])
    )
    assert [_records(o) for o in outcomes] == [[2]] * len(devices)


def test_a_pull_skips_the_events_query_only_when_nothing_new_can_be_there(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QuietStates: a pull from where this process left the state, unwritten
    since, with no change of its models announced since its last read,
    reads no events; anything else reads them."""
    notifier, quiet = _quiet_states(database_url)
    partners: dict[str, Any] = {"models_filter": ("res.partner",)}
    write_events(database_url, ("res.partner", 1, "create"))
    token = asyncio.run(_pull(database_url, _request("phone", **partners))).next_sync_token

    def pull(
        token: str | None, access: UserAccess | None = None, limit: int = 100
    ) -> tuple[list[int], bool, str]:
        """The records served, whether the events query was skipped, the token."""
        skipped = quiet.skipped

        async def run() -> list[Any]:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                identity = await read_identity(conn)
                request = _request("phone", token, limit=limit, **partners)
                return await engine.pull_many(conn, identity, [(request, access)], quiet)

        [result] = asyncio.run(run())
        return _records(result), quiet.skipped > skipped, result.next_sync_token

    assert pull(token)[:2] == ([], False)  # nothing remembered yet: read
    records, skipped, token = pull(token)
    assert (records, skipped) == ([], True)  # nothing announced since: skipped
    notifier.wake({"sale.order"})
    records, skipped, token = pull(token)
    assert (records, skipped) == ([], True)  # another model's change
    write_events(database_url, ("res.partner", 2, "write"))
    notifier.wake({"res.partner"})
    records, skipped, token = pull(token)
    assert (records, skipped) == ([2], False)  # its model: read, served
    records, skipped, token = pull(token)
    assert (records, skipped) == ([], True)

    # Each of these reads the events, though nothing was announced:
    write_events(database_url, ("res.partner", 3, "write"))  # unannounced
    notifier.listening = False  # the listener is down: announcements may be lost
    records, skipped, token = pull(token)
    assert (records, skipped) == ([3], False)
    notifier.listening = True
    _, skipped, token = pull(token)
    assert skipped
    with psycopg.connect(database_url, autocommit=True) as conn:  # written by another
        conn.execute("UPDATE user_sync_state SET is_active = true")
    _, skipped, token = pull(token)
    assert not skipped
    assert pull(token)[1]  # remembered again from that read
    # An answer lost: the device sends the token before it again, and starts
    # behind where the state was left (its batch comes again).
    write_events(database_url, ("res.partner", 4, "write"))
    notifier.wake({"res.partner"})
    assert pull(token)[:2] == ([4], False)
    records, skipped, token = pull(token)
    assert (records, skipped) == ([4], False)
    # Other models (the user may no longer read res.partner): read.
    _, skipped, token = pull(token)
    assert skipped
    partners_hidden = UserAccess(frozenset(), frozenset(), frozenset({"res.partner"}))
    assert not pull(token, partners_hidden)[1]
    # A page cut short by its limit: the rest is read, though nothing new came.
    write_events(database_url, ("res.partner", 5, "write"), ("res.partner", 6, "write"))
    notifier.wake({"res.partner"})
    records, skipped, token = pull(token, limit=1)
    assert (records, skipped) == ([5], False)
    records, skipped, token = pull(token, limit=1)
    assert (records, skipped) == ([6], False)


def test_woken_pulls_are_remembered_quiet_only_after_reading_everything(
    database_url: str,
) -> None:
    """serve_waiting remembers a state as QuietStates does for pull_many:
    after a page that was not cut short."""
    notifier, quiet = _quiet_states(database_url)
    write_events(database_url, ("res.partner", 1, "create"))
    token = asyncio.run(_pull(database_url, _request("phone", limit=1))).next_sync_token

    async def run() -> list[tuple[list[int], bool]]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            identity = await read_identity(conn)
            [waiting] = await engine.pull_many(
                conn, identity, [(_request("phone", token, limit=1), None)], quiet
            )
            assert waiting is not None and waiting.waiting is not None
            write_events(database_url, ("res.partner", 2, "write"), ("res.partner", 3, "write"))
            notifier.wake({"res.partner"})
            [woken] = await engine.serve_waiting(conn, [waiting.waiting], quiet)
            assert woken is not None and woken.has_more
            seen = []
            next_token = woken.next_sync_token
            for _ in range(2):
                skipped = quiet.skipped
                [result] = await engine.pull_many(
                    conn, identity, [(_request("phone", next_token, limit=1), None)], quiet
                )
                assert result is not None
                seen.append((_records(result), quiet.skipped > skipped))
                next_token = result.next_sync_token
            return [(_records(woken), True), *seen]

    # After the rest was read, nothing is left: the next pull skips the query.
    assert asyncio.run(run()) == [([2], True), ([3], False), ([], True)]


def test_a_long_poll_rests_only_where_this_process_left_its_state(database_url: str) -> None:
    """engine.pull_at_rest: a long poll waits without reading its state only
    with the token of the position this process left the state at, for the
    same device, app type, models and limit, its subscription read less than
    rest_seconds ago, the listener up and nothing of its models announced
    since. Its answer writes the acknowledgment, unless the state was
    written meanwhile."""
    notifier, quiet = _quiet_states(database_url)
    partners: dict[str, Any] = {"models_filter": ("res.partner",)}
    write_events(database_url, ("res.partner", 1, "create"))
    first = asyncio.run(_pull(database_url, _request("phone", **partners))).next_sync_token

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            identity = await read_identity(conn)

            def rests(token: str | None, device: str = "phone", **fields: Any) -> bool:
                request = _request(device, token, **{**partners, **fields})
                return engine.pull_at_rest(identity, request, quiet) is not None

            assert not rests(first)  # nothing remembered yet
            [read] = await engine.pull_many(
                conn, identity, [(_request("phone", first, **partners), None)], quiet
            )
            assert read is not None and read.events == []
            token = read.next_sync_token
            assert rests(token)
            assert not rests(None)  # a device without tokens: its pull acknowledges
            assert not rests(token, device="tablet")
            assert not rests(token, app_type="sales_app")
            assert not rests(token, models_filter=None)
            assert not rests(token, limit=50)
            notifier.wake({"sale.order"})
            assert rests(token)  # another model's change
            notifier.listening = False
            assert not rests(token)
            notifier.listening = True
            quiet.rest_seconds = 0.0
            assert not rests(token)
            quiet.rest_seconds = engine.REST_SECONDS

            # Woken with events: the answer writes the acknowledgment too.
            rested = engine.pull_at_rest(identity, _request("phone", token, **partners), quiet)
            assert rested is not None and rested.waiting is not None
            assert rested.waiting.unwritten
            write_events(database_url, ("res.partner", 2, "write"))
            notifier.wake({"res.partner"})
            assert not rests(token)  # its model changed since
            [woken] = await engine.serve_waiting(conn, [rested.waiting], quiet)
            assert _records(woken) == [2]
            state = await state_store.find_state(conn, 2, "phone")
            assert state is not None
            assert state.acknowledged == rested.waiting.position
            assert state.issued != rested.waiting.position
            assert woken is not None
            assert not rests(token)  # the token before the answer: behind the state
            token = woken.next_sync_token
            assert rests(token)
            # From the state that answer left: served with others again.
            rested = engine.pull_at_rest(identity, _request("phone", token, **partners), quiet)
            assert rested is not None and rested.waiting is not None
            write_events(database_url, ("res.partner", 3, "write"))
            notifier.wake({"res.partner"})
            [woken] = await engine.serve_waiting(conn, [rested.waiting], quiet)
            assert _records(woken) == [3]
            assert woken is not None
            token = woken.next_sync_token

            # Written by another meanwhile: the woken pull must read on its own.
            rested = engine.pull_at_rest(identity, _request("phone", token, **partners), quiet)
            assert rested is not None and rested.waiting is not None
            await conn.execute("UPDATE user_sync_state SET is_active = true")
            write_events(database_url, ("res.partner", 4, "write"))
            notifier.wake({"res.partner"})
            assert await engine.serve_waiting(conn, [rested.waiting], quiet) == [None]

    asyncio.run(run())
