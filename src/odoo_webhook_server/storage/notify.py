"""Waking long-polling pulls: one LISTEN connection per server process.

Every transaction that writes events sends, at its commit, one NOTIFY on
NOTIFY_CHANNEL naming its transaction id and the models it changed (the
trigger in extras_update_webhook.sql). A waiting pull registers a `Waiter`
for the models it serves before it reads, so a commit that lands between its
read and its wait is never missed, and only commits of those models wake it.

Two safety nets keep a pull from sleeping while it has something to serve:
- a reconnected listener wakes every waiter (anything may have happened
  while it was away); while it is down, waits degrade to short sleeps;
- a probe looks, every `probe_seconds`, for transactions that committed
  events without a notification (triggers disabled, a notification lost)
  and wakes their models: one indexed query per process, not per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable
from typing import cast

import psycopg
from odoo_webhook_core.capture import NOTIFY_ALL_MODELS, NOTIFY_CHANNEL

from ..sync.position import Snapshot
from . import events as event_store
from .pool import database_error_reason

__all__ = ["ChangeNotifier", "Waiter", "parse_payload"]

log = logging.getLogger(__name__)


class Waiter:
    """One waiting pull: woken when one of `models` (None: any) changes."""

    __slots__ = ("_event", "models")

    def __init__(self, models: frozenset[str] | None) -> None:
        self.models = models
        self._event = asyncio.Event()

    @property
    def woken(self) -> bool:
        return self._event.is_set()

    def wake(self) -> None:
        self._event.set()

    def rearm(self) -> None:
        self._event.clear()


def parse_payload(payload: str) -> tuple[int | None, frozenset[str] | None]:
    """(txid, models) of a notification; models None: every model (the
    catch-all, or a payload this server does not understand)."""
    txid_text, _, models_text = payload.partition(";")
    try:
        txid = int(txid_text)
    except ValueError:
        return None, None
    if not models_text or models_text == NOTIFY_ALL_MODELS:
        return txid, None
    return txid, frozenset(models_text.split(","))


_PROBE_SQL = """
WITH now AS (SELECT txid_current_snapshot() AS snap)
SELECT (SELECT snap FROM now)::text, found.txid, found.model
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT DISTINCT e.txid, e.model FROM update_webhook e
              WHERE (e.txid = ANY(%(xip)s::int8[]) OR e.txid >= %(xmax)s)
                AND txid_visible_in_snapshot(e.txid, (SELECT snap FROM now))) AS found ON true
"""


# Wait windows end on multiples of this (ChangeNotifier.wait): with 10,000
# devices waiting 30 s, about 33 end on each tick, and their pulls that
# follow are read in a few batches. One server process spent 0.27 cores
# instead of 0.58 on them, PostgreSQL 0.04 instead of 0.24 (bench_live,
# quiet phase; docs/BENCHMARKS.md).
EXPIRY_TICK_SECONDS = 0.1


class ChangeNotifier:
    def __init__(
        self, conninfo: str, *, retry_seconds: float = 0.5, probe_seconds: float = 1.0
    ) -> None:
        self._conninfo = conninfo
        self._retry = retry_seconds
        self._probe_every = probe_seconds
        self.listening = False
        self._tasks: list[asyncio.Task[None]] = []
        self._by_model: dict[str, set[Waiter]] = {}
        self._any_model: set[Waiter] = set()
        # Transactions announced by a notification, until the probe passed them.
        self._announced: set[int] = set()
        # Transactions the probe found unannounced, and their models.
        self._suspects: dict[int, set[str]] = {}
        # Change marks: every wake-up counts one; the last one that named a
        # model, and the last that named them all (quiet_since).
        self.changes = 0
        self._changed_at: dict[str, int] = {}
        self._all_changed_at = 0

    # -- life cycle --------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="change-listener"),
                asyncio.create_task(self._probe(), name="change-probe"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- waiters -----------------------------------------------------------

    def subscribe(self, models: Iterable[str] | None = None) -> Waiter:
        waiter = Waiter(None if models is None else frozenset(models))
        self._register(waiter)
        return waiter

    def narrow(self, waiter: Waiter, models: Iterable[str] | None) -> None:
        """Wake `waiter` only for `models` from now on (None: any model)."""
        narrowed = None if models is None else frozenset(models)
        if narrowed == waiter.models:
            return  # a woken pull that waits again: registered as it is
        self.unsubscribe(waiter)
        waiter.models = narrowed
        self._register(waiter)

    def unsubscribe(self, waiter: Waiter) -> None:
        if waiter.models is None:
            self._any_model.discard(waiter)
            return
        for model in waiter.models:
            waiters = self._by_model.get(model)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_model[model]

    def _register(self, waiter: Waiter) -> None:
        if waiter.models is None:
            self._any_model.add(waiter)
        else:
            for model in waiter.models:
                self._by_model.setdefault(model, set()).add(waiter)

    async def wait(self, waiter: Waiter, seconds: float) -> bool:
        """True when woken within `seconds` (the waiter is then rearmed)."""
        if seconds <= 0:
            return waiter.woken
        if not self.listening:
            await asyncio.sleep(min(seconds, self._retry))  # degraded: poll
            return True
        # A wait window ends on a tick (rounded up: never early, at most
        # EXPIRY_TICK_SECONDS late), so that the devices whose windows end
        # together pull again together and are read as one batch, not one
        # by one. asyncio.timeout_at, not wait_for: no task per wait.
        tick = EXPIRY_TICK_SECONDS
        ends = math.ceil((asyncio.get_running_loop().time() + seconds) / tick) * tick
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(ends):
                await waiter._event.wait()
        woken = waiter.woken
        waiter.rearm()
        return woken

    def quiet_since(self, mark: int, models: Iterable[str] | None) -> bool:
        """Whether no change of `models` (None: of any model) was announced
        since `mark` (a value of `changes` taken before), while listening.
        Every wake-up counts: notifications, the probe's finds, and a
        listener's (re)connection, which counts for every model."""
        if not self.listening or self._all_changed_at > mark:
            return False
        if models is None:
            return self.changes <= mark
        return all(self._changed_at.get(model, 0) <= mark for model in models)

    def wake(self, models: Iterable[str] | None) -> None:
        """Wake the waiters of `models` (None: every waiter)."""
        self.changes += 1
        if models is None:
            self._all_changed_at = self.changes
        else:
            for model in models:
                self._changed_at[model] = self.changes
        for waiter in self._any_model:
            waiter.wake()
        if models is None:
            for waiters in self._by_model.values():
                for waiter in waiters:
                    waiter.wake()
            return
        for model in models:
            for waiter in self._by_model.get(model, ()):
                waiter.wake()

    # -- sources of wake-ups -------------------------------------------------

    async def _listen(self) -> None:
        lost = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="odoo-webhook-server-listen"
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening = True
                    if lost:
                        log.info("change listener reconnected")
                        lost = False
                    self.wake(None)  # anything may have happened while we were away
                    async for notification in conn.notifies():
                        txid, models = parse_payload(notification.payload)
                        if txid is not None:
                            self._announced.add(txid)
                        self.wake(models)
            except psycopg.Error as exc:
                if not lost:  # once per outage; the pool reports the outage itself
                    log.info(
                        "change listener lost the database (%s); retrying every %s s",
                        database_error_reason(exc),
                        self._retry,
                    )
                lost = True
            finally:
                self.listening = False
            await asyncio.sleep(self._retry)

    async def _probe(self) -> None:
        """Wake the models of transactions that committed events unannounced."""
        seen: Snapshot | None = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="odoo-webhook-server-probe"
                ) as conn:
                    while True:
                        seen = await self._probe_once(conn, seen)
                        await asyncio.sleep(self._probe_every)
            except psycopg.Error:
                seen = None  # the listener's reconnection wakes everyone anyway
            await asyncio.sleep(self._retry)

    async def _probe_once(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]], seen: Snapshot | None
    ) -> Snapshot:
        if seen is None:
            return await event_store.snapshot(conn)
        cur = await conn.execute(_PROBE_SQL, {"xip": list(seen.xip), "xmax": seen.xmax})
        rows = await cur.fetchall()
        now = Snapshot.parse(cast(str, rows[0][0]))
        # A notification may still be on its way (a busy process reads them
        # late): a transaction counts as unannounced one probe later.
        late = {
            txid: models for txid, models in self._suspects.items() if txid not in self._announced
        }
        self._suspects = {}
        for _, txid, model in rows:
            if txid is not None and txid not in self._announced:
                self._suspects.setdefault(cast(int, txid), set()).add(cast(str, model))
        # Announcements of transactions the previous probe had passed are done with.
        self._announced = {txid for txid in self._announced if not seen.visible(txid)}
        if late:
            models = set().union(*late.values())
            log.info("events committed without a notification, models %s", sorted(models))
            self.wake(models)
        return now
