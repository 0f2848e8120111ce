"""Pulls served together.

Every pull a notification wakes asks `SharedReads.read`; those asking in the
same turn of the event loop (one notification wakes them all at once) go in
one batch (engine.serve_waiting): one connection, one statement for the
events of every group of pulls at one position with one subscription, one
UPDATE for their states. A commit then costs two statements, whose work
grows with the distinct subscriptions and positions among the waiting
devices, not with the devices.

The devices it answers pull again at once, together; `PullBatches` reads
the pulls that arrive while others are being read as one too
(engine.pull_many): one statement for their states, one for the events of
all their groups, one for their writes, on at most `running` connections at
a time.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from ..observability import metrics
from ..storage.odoo_users import UserAccess
from . import engine
from .token import DatabaseIdentity

__all__ = ["PullBatches", "SharedReads"]

log = logging.getLogger(__name__)


class SharedReads:
    def __init__(
        self, pool: AsyncConnectionPool[engine.Conn], quiet: engine.QuietStates | None = None
    ) -> None:
        self._pool = pool
        self._quiet = quiet
        self._batch: list[tuple[engine.WaitingPull, asyncio.Future[engine.PullResult | None]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def read(self, waiting: engine.WaitingPull) -> engine.PullResult | None:
        """The pull's answer; without events when nothing came for it; None
        when it must read on its own (a full pull says why)."""
        future: asyncio.Future[engine.PullResult | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._batch.append((waiting, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="shared-reads")
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # every pull woken by this notification joins
        batch, self._batch, self._runner = self._batch, [], None
        try:
            async with self._pool.connection() as conn:
                outcomes = await engine.serve_waiting(
                    conn, [waiting for waiting, _ in batch], self._quiet
                )
        except Exception as exc:  # each pull reads on its own, and reports the error
            log.debug("shared read failed: %r", exc)
            outcomes = [None] * len(batch)
        shared = metrics.SHARED_READS
        metrics.labelled(shared, "batches").inc()
        metrics.labelled(shared, "queries").inc(len({waiting.group for waiting, _ in batch}))
        metrics.labelled(shared, "pulls").inc(len(batch))
        metrics.labelled(shared, "served").inc(sum(1 for o in outcomes if o and o.events))
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)


class PullBatches:
    """Pulls read in batches (engine.pull_many): a pull that arrives while
    `running` batches are being read waits for the next one, which takes
    every pull waiting then (at most `largest`). Alone, a pull is read at
    once, as a batch of one."""

    def __init__(
        self,
        pool: AsyncConnectionPool[engine.Conn],
        quiet: engine.QuietStates | None = None,
        *,
        running: int = 2,
        largest: int = 200,
    ) -> None:
        self._pool = pool
        self._quiet = quiet
        self._most_running = running
        self._largest = largest
        self._running = 0  # runners that may still take from the queue
        self._runners: set[asyncio.Task[None]] = set()  # referenced until done
        self._queue: list[
            tuple[
                engine.PullRequest,
                UserAccess | None,
                asyncio.Future[engine.PullResult | None],
            ]
        ] = []

    async def pull(
        self,
        identity: DatabaseIdentity,
        request: engine.PullRequest,
        access: UserAccess | None,
    ) -> engine.PullResult | None:
        """The pull's answer; None when it must be made on its own (engine.pull
        then answers, or says why not)."""
        future: asyncio.Future[engine.PullResult | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append((request, access, future))
        if self._running < self._most_running:
            self._running += 1
            runner = asyncio.create_task(self._run(identity), name="pull-batches")
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        return await future

    async def _run(self, identity: DatabaseIdentity) -> None:
        try:
            await asyncio.sleep(0)  # the pulls that arrived in this turn of the loop join
            while self._queue:
                await self._read_batch(identity)
        finally:
            # With no await since the queue was found empty: a pull queued
            # from now on starts a runner.
            self._running -= 1

    async def _read_batch(self, identity: DatabaseIdentity) -> None:
        batch = self._queue[: self._largest]
        del self._queue[: self._largest]
        outcomes: list[engine.PullResult | None] = [None] * len(batch)
        skipped = self._quiet.skipped if self._quiet is not None else 0
        try:
            try:
                async with self._pool.connection() as conn:
                    outcomes = await engine.pull_many(
                        conn,
                        identity,
                        [(request, access) for request, access, _ in batch],
                        self._quiet,
                    )
            except Exception as exc:  # each pull reads on its own, and reports the error
                log.debug("batched pulls failed: %r", exc)
            metrics.labelled(metrics.PULL_BATCHES, "batches").inc()
            metrics.labelled(metrics.PULL_BATCHES, "pulls").inc(len(batch))
            metrics.labelled(metrics.PULL_BATCHES, "alone").inc(outcomes.count(None))
            if self._quiet is not None:
                metrics.labelled(metrics.PULL_BATCHES, "quiet").inc(self._quiet.skipped - skipped)
        finally:  # cancelled too: no pull is left waiting
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
