"""Coalescing: several events of one record in a batch become one.

create + write* -> create; write + write -> write (changed fields merged);
anything + unlink -> unlink; create ... unlink -> nothing (the device never
had the record). The result keeps the stream order of each record's last
event and carries that event's id, timestamp and author.
"""

from __future__ import annotations

from collections.abc import Iterable

from .events import Event

__all__ = ["coalesce"]


def coalesce(events: Iterable[Event]) -> list[Event]:
    page = list(events)
    # Most pages name each record once: nothing to merge.
    if len({(event.model, event.record_id) for event in page}) == len(page):
        return page
    first_kind: dict[tuple[str, int], str] = {}
    merged: dict[tuple[str, int], Event] = {}
    for event in page:
        key = (event.model, event.record_id)
        previous = merged.pop(key, None)  # re-inserted below: dict order = last-event order
        if previous is None:
            first_kind[key] = event.event
            merged[key] = event
            continue
        if event.event == "unlink":
            merged[key] = event
        elif first_kind[key] == "create":
            merged[key] = event._replace(event="create", changed_fields=())
        else:
            fields = dict.fromkeys(previous.changed_fields + event.changed_fields)
            merged[key] = event._replace(event="write", changed_fields=tuple(fields))
    return [
        event
        for key, event in merged.items()
        if not (first_kind[key] == "create" and event.event == "unlink")
    ]
