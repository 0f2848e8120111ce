"""A device's sync state (table user_sync_state), as the engine sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .position import START, Position

__all__ = ["DeviceState"]


@dataclass(frozen=True)
class DeviceState:
    id: int
    user_id: int
    device_id: str
    app_type: str
    models_filter: tuple[str, ...] | None
    last_event_id: int
    last_sync_time: datetime | None
    sync_count: int
    is_active: bool
    acknowledged: Position  # what the device has confirmed
    issued: Position  # what the last response handed out

    @property
    def at_start(self) -> bool:
        """Nothing delivered since creation or the last reset."""
        return self.issued == START
