"""AsyncSyncClient: the same protocol driven over httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random as _random
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

from ._errors import NetworkError
from ._protocol import (
    Backoff,
    Effect,
    Event,
    Invoke,
    Position,
    Protocol,
    Send,
    Session,
    Sleep,
    Steps,
    Stopped,
    SyncState,
)
from ._store import MemoryStore, Store

__all__ = ["AsyncSyncClient"]

T = TypeVar("T")

AsyncApply = Callable[[list[Event]], Awaitable[None] | None]


class AsyncSyncClient:
    """One device's sync over httpx.AsyncClient; the same behaviour as
    `SyncClient`. `apply` and the hooks may be coroutine functions or plain
    functions. The store is called directly (it should be quick)."""

    def __init__(
        self,
        base_url: str,
        session: Session,
        user_id: int,
        device_id: str,
        app_type: str,
        models_filter: list[str] | tuple[str, ...] | None = None,
        store: Store | None = None,
        *,
        limit: int = 100,
        wait: float = 30.0,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] = _random.random,
        on_session_expired: Callable[[], Awaitable[str | None] | str | None] | None = None,
        on_resync: Callable[[str], Awaitable[None] | None] | None = None,
        on_subscription_changed: Callable[[str], Awaitable[None] | None] | None = None,
        initial_position: Position = "start",
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.protocol = Protocol(
            session=session,
            user_id=user_id,
            device_id=device_id,
            app_type=app_type,
            models_filter=models_filter,
            store=store if store is not None else MemoryStore(),
            limit=limit,
            wait=wait,
            timeout=timeout,
            backoff=backoff or Backoff(),
            random=random,
            on_session_expired=on_session_expired,
            on_resync=on_resync,
            on_subscription_changed=on_subscription_changed,
            initial_position=initial_position,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=verify)

    @property
    def store(self) -> Store:
        return self.protocol.store

    @property
    def device_id(self) -> str:
        return self.protocol.device_id

    async def sync_once(self, apply: AsyncApply) -> int:
        """Pull until `has_more` is false, `apply` each batch, store its
        token after apply returned; one last pull tells the server the last
        batch was applied. No retries: errors are raised. Returns how many
        events were applied."""
        return await self._run(self.protocol.sync_once(apply))

    async def live(self, apply: AsyncApply, stop: asyncio.Event | None = None) -> None:
        """Sync until `stop` is set (or the task is cancelled): long polls,
        backing off on 503 and network errors. Setting `stop` cancels the
        request in flight (its connection is closed) and any backoff sleep; a
        batch being applied is finished and acknowledged first. Cancelling
        the task stops at once, wherever it is (an unfinished batch comes
        again next time)."""
        await self._run(self.protocol.live(apply, stop.is_set if stop else lambda: False), stop)

    async def state(self) -> SyncState:
        """The device's state on the server (NotFound before its first pull)."""
        return await self._run(self.protocol.state())

    async def reset(self, position: Position | None = None) -> SyncState:
        """Move the device to the start of the stream (default) or its head,
        and drop the stored token. After `reset("head")`, reload the data."""
        return await self._run(self.protocol.reset(position))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # driving the protocol

    async def _run(self, steps: Steps[T], stop: asyncio.Event | None = None) -> T:
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                effect = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as finished:
                return cast(T, finished.value)
            value, error = None, None
            try:
                value = await self._perform(effect, stop)
            except Exception as exc:
                error = exc

    async def _perform(self, effect: Effect, stop: asyncio.Event | None) -> Any:
        if isinstance(effect, Invoke):
            result = effect.function(*effect.args)
            return await result if inspect.isawaitable(result) else result
        if isinstance(effect, Sleep):
            if self._sleep is not None:
                await self._sleep(effect.seconds)
            elif stop is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), effect.seconds)
            else:
                await asyncio.sleep(effect.seconds)
            if stop is not None and stop.is_set():
                raise Stopped()
            return None
        assert isinstance(effect, Send)
        if stop is not None and stop.is_set():
            raise Stopped()
        request = effect.request
        try:
            return await self._unless_stopped(
                self._http.request(
                    request.method,
                    request.path,
                    params=request.params,
                    json=request.json,
                    headers=request.headers,
                    timeout=httpx.Timeout(self.protocol.timeout, read=request.read_timeout),
                ),
                stop,
            )
        except httpx.TransportError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _unless_stopped(
        request: Coroutine[Any, Any, httpx.Response], stop: asyncio.Event | None
    ) -> httpx.Response:
        """The response, or Stopped once `stop` is set: the request is then
        cancelled and has closed its connection before this returns."""
        if stop is None:
            return await request
        sending = asyncio.ensure_future(request)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sending, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not sending.done():
                sending.cancel()
                await asyncio.wait({sending})
        if sending.cancelled():
            raise Stopped()
        return sending.result()
