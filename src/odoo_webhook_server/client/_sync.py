"""SyncClient: the protocol driven over httpx.Client, for scripts and threads."""

from __future__ import annotations

import contextlib
import inspect
import random as _random
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar, cast

import httpcore
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

__all__ = ["SyncClient"]

T = TypeVar("T")


class _Stream(httpcore.NetworkStream):
    """A connection whose socket `_Interrupter` can shut down from any thread."""

    def __init__(self, inner: httpcore.NetworkStream, owner: _Interrupter) -> None:
        self._inner = inner
        self._owner = owner
        owner.track(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._owner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _Interrupter(httpcore.SyncBackend):
    """Network backend that can end every request in flight at once.

    Closing an httpx.Client from another thread does not wake a thread that
    is blocked reading a long poll; shutting the socket down does: the read
    returns at once and the server sees the connection close."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: weakref.WeakSet[_Stream] = weakref.WeakSet()
        self._interrupted = False

    def track(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.add(stream)
            interrupted = self._interrupted
        if interrupted:
            stream.shutdown()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            super().connect_tcp(host, port, timeout, local_address, socket_options), self
        )

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()

    def rearm(self) -> None:
        with self._lock:
            self._interrupted = False


class SyncClient:
    """One device's sync over httpx.Client. See docs/clients/python.md.

    `apply(events)` must make the events part of the app's data before it
    returns; only then is the batch acknowledged (at-least-once: a batch may
    come again, so applying must be idempotent). Hooks:

    - `on_session_expired()` on a 401: return a new session id (or make the
      `session` callable return one); the request is retried once. If it
      raises, or there is no hook, `SessionExpired` is raised.
    - `on_resync(reason)` when events the device had not applied are gone:
      the device has just been reset to the head; reload the app's data from
      Odoo, then the sync goes on. Without it, `ResyncRequired` is raised.
    - `on_subscription_changed(detail)` after the client reset the device to
      the start because its app_type/models_filter changed (every stored
      event of the new subscription comes again).
    """

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
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        on_session_expired: Callable[[], str | None] | None = None,
        on_resync: Callable[[str], None] | None = None,
        on_subscription_changed: Callable[[str], None] | None = None,
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
        self._interrupter = _Interrupter()
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        transport = httpx.HTTPTransport()
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=self._interrupter
        )
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)

    @property
    def store(self) -> Store:
        return self.protocol.store

    @property
    def device_id(self) -> str:
        return self.protocol.device_id

    def sync_once(self, apply: Callable[[list[Event]], None]) -> int:
        """Pull until `has_more` is false, `apply` each batch, store its
        token after apply returned; one last pull tells the server the last
        batch was applied. No retries: errors are raised. Returns how many
        events were applied."""
        return self._run(self.protocol.sync_once(apply))

    def live(
        self, apply: Callable[[list[Event]], None], stop: threading.Event | None = None
    ) -> None:
        """Sync until `stop` is set: long polls (`wait` seconds each), backing
        off on 503 and network errors. Setting `stop` ends the request in
        flight (the server sees the connection close) and any backoff sleep
        at once; a batch being applied is finished and acknowledged first.
        Other errors (and apply's) end `live` by raising."""
        if stop is None:
            self._run(self.protocol.live(apply, lambda: False))
            return
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if stop.wait(0.05):
                    self._interrupter.interrupt()
                    return

        watcher = threading.Thread(target=watch, name="sync-live-stop", daemon=True)
        watcher.start()
        try:
            self._run(self.protocol.live(apply, stop.is_set), stop)
        finally:
            done.set()
            watcher.join()
            self._interrupter.rearm()

    def state(self) -> SyncState:
        """The device's state on the server (NotFound before its first pull)."""
        return self._run(self.protocol.state())

    def reset(self, position: Position | None = None) -> SyncState:
        """Move the device to the start of the stream (default) or its head,
        and drop the stored token. After `reset("head")`, reload the data."""
        return self._run(self.protocol.reset(position))

    def close(self) -> None:
        self._interrupter.interrupt()
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # driving the protocol

    def _run(self, steps: Steps[T], stop: threading.Event | None = None) -> T:
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                effect = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as finished:
                return cast(T, finished.value)
            value, error = None, None
            try:
                value = self._perform(effect, stop)
            except Exception as exc:
                error = exc

    def _perform(self, effect: Effect, stop: threading.Event | None) -> Any:
        if isinstance(effect, Invoke):
            result = effect.function(*effect.args)
            if inspect.isawaitable(result):  # it did not run: never acknowledge that
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(f"{effect.function!r} is async: use AsyncSyncClient")
            return result
        if isinstance(effect, Sleep):
            if self._sleep is not None:
                self._sleep(effect.seconds)
            elif stop is not None:
                stop.wait(effect.seconds)
            else:
                time.sleep(effect.seconds)
            if stop is not None and stop.is_set():
                raise Stopped()
            return None
        assert isinstance(effect, Send)
        if stop is not None and stop.is_set():
            raise Stopped()
        request = effect.request
        try:
            return self._http.request(
                request.method,
                request.path,
                params=request.params,
                json=request.json,
                headers=request.headers,
                timeout=httpx.Timeout(self.protocol.timeout, read=request.read_timeout),
            )
        except httpx.TransportError as exc:
            if stop is not None and stop.is_set():
                raise Stopped() from exc
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
