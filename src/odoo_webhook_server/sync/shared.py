"""Pulls woken by one commit are served together (engine.serve_waiting).

Every pull a notification wakes asks `SharedReads.read`; those asking in the
same turn of the event loop (one notification wakes them all at once) go in
one batch: one connection, one snapshot, one events query per group of
pulls at one position with one subscription, one UPDATE for their states.
A commit then costs as many queries as there are distinct subscriptions and
positions among the waiting devices, not as many as devices.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from ..observability import metrics
from . import engine

__all__ = ["SharedReads"]

log = logging.getLogger(__name__)


class SharedReads:
    def __init__(self, pool: AsyncConnectionPool[engine.Conn]) -> None:
        self._pool = pool
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
                outcomes = await engine.serve_waiting(conn, [waiting for waiting, _ in batch])
        except Exception as exc:  # each pull reads on its own, and reports the error
            log.debug("shared read failed: %r", exc)
            outcomes = [None] * len(batch)
        metrics.SHARED_READS.labels("batches").inc()
        metrics.SHARED_READS.labels("queries").inc(len({waiting.group for waiting, _ in batch}))
        metrics.SHARED_READS.labels("pulls").inc(len(batch))
        metrics.SHARED_READS.labels("served").inc(sum(1 for o in outcomes if o and o.events))
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
