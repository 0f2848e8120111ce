"""Where the client keeps what must survive a restart: a small key-value store.

The client writes a device's `next_sync_token` only after the app applied the
batch it came with, so the store must be as durable as the app's own data
(ideally: the same database, written in the same transaction as the data).
`JsonFileStore` suits back-office scripts; `MemoryStore` tests and one-off runs.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

__all__ = ["JsonFileStore", "MemoryStore", "Store", "stable_device_id"]


class Store(Protocol):
    """Three calls on string keys and values; `get` answers None when absent."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryStore:
    """A dict: forgotten when the process ends (the device then starts again)."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._data = dict(initial or {})

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def set(self, key: str, value: str) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def __repr__(self) -> str:
        return f"MemoryStore({self._data!r})"


class JsonFileStore:
    """One JSON object in one file, replaced atomically on every change (a
    temporary file in the same directory, fsync, os.replace): a crash leaves
    the old content or the new one, never half of it. Read on every `get`, so
    a new process sees what the last one wrote. One writer process at a time.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        data = json.loads(text)
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError(f"{self.path} is not a JSON object of strings")
        return data

    def _write(self, data: dict[str, str]) -> None:
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=2, sort_keys=True)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._read().get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            data = self._read()
            if data.get(key) != value:
                data[key] = value
                self._write(data)

    def delete(self, key: str) -> None:
        with self._lock:
            data = self._read()
            if key in data:
                del data[key]
                self._write(data)

    def __repr__(self) -> str:
        return f"JsonFileStore({str(self.path)!r})"


DEVICE_ID_KEY = "device_id"


def stable_device_id(store: Store, prefix: str = "python") -> str:
    """This install's device id: made once (`<prefix>-<uuid4>`), then kept in
    `store` under "device_id" and returned unchanged on every later call."""
    existing = store.get(DEVICE_ID_KEY)
    if existing:
        return existing
    if not prefix or len(prefix) > 200:
        raise ValueError("prefix must be 1-200 characters")
    device_id = f"{prefix}-{uuid.uuid4()}"
    store.set(DEVICE_ID_KEY, device_id)
    return device_id
