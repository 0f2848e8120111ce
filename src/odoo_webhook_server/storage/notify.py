"""Waking long-polling pulls: one LISTEN connection per server process.

Writers (the addon's capture, the demo) send one NOTIFY on NOTIFY_CHANNEL
per committed transaction. Waiters compare a generation counter taken
before their pull, so a notification that lands between the pull and the
wait is never missed. When the listener is down (database unreachable), waits
degrade to short sleeps, and the listener reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from odoo_webhook_core.capture import NOTIFY_CHANNEL

from .pool import database_error_reason

__all__ = ["ChangeNotifier"]

log = logging.getLogger(__name__)


class ChangeNotifier:
    def __init__(self, conninfo: str, *, retry_seconds: float = 0.5) -> None:
        self._conninfo = conninfo
        self._retry = retry_seconds
        self._changed = asyncio.Event()
        self.generation = 0
        self.listening = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="change-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _bump(self) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = asyncio.Event()

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
                    self._bump()  # anything may have happened while we were away
                    async for _ in conn.notifies():
                        self._bump()
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

    async def wait(self, seen_generation: int, seconds: float) -> bool:
        """True when something changed after `seen_generation`, within `seconds`."""
        if seconds <= 0:
            return self.generation != seen_generation
        if not self.listening:
            await asyncio.sleep(min(seconds, self._retry))  # degraded: poll
            return True
        changed = self._changed
        if self.generation != seen_generation:
            return True
        try:
            await asyncio.wait_for(changed.wait(), seconds)
        except TimeoutError:
            return False
        return True
