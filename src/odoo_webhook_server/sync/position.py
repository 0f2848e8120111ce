"""A device's position in the event stream: commit order, as PgQ does it.

Events are written by transactions that commit in any order. A position is
cut at PostgreSQL snapshots: a snapshot (xmin, xmax, in-progress list) tells
which transactions had committed when it was taken, and each later snapshot
sees a superset. A batch is the events of the transactions visible in the
current snapshot but not in the previous one, in (txid, event id) order. A
transaction is served as soon as it commits, however long another one stays
open, and one that commits late is served then: nothing is skipped.

A position is (base, top, after):
  delivered = every event of a transaction visible in `base`
            + the events of transactions visible in `top` (not in `base`)
              up to `after` in (txid, event id) order.
A finished batch has base == top; a batch cut short by the page limit keeps
both snapshots, so that the next page neither skips nor repeats.

The in-progress list is bounded by max_connections, so a position is too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from .cursor import Cursor

__all__ = ["START", "Position", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """Transactions below xmax and not in xip had committed (or rolled back)."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    def as_others_see_it(self, own_txid: int | None) -> Snapshot:
        """PostgreSQL leaves the taking transaction's own id out of its
        snapshot's in-progress list (though not out of xmin); put it back, so
        that snapshots taken one after the other by different transactions
        grow monotonically (what `order_key` relies on)."""
        if own_txid is None or not self.xmin <= own_txid < self.xmax or own_txid in self.xip:
            return self
        return Snapshot(self.xmin, self.xmax, tuple(sorted((*self.xip, own_txid))))

    def visible(self, txid: int) -> bool:
        return txid < self.xmax and txid not in self.xip

    @property
    def order_key(self) -> tuple[int, int]:
        # Snapshots of one database, taken one after the other: a later one has
        # a larger xmax, or the same xmax and fewer transactions still running.
        return (self.xmax, -len(self.xip))

    def text(self) -> str:
        """PostgreSQL's txid_snapshot text form, xmin:xmax:xip1,xip2."""
        return self._text

    @cached_property
    def _text(self) -> str:
        # A batch's snapshot ends the positions of all its devices.
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, self.xip))}"

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        """Raises ValueError on anything but a well-formed snapshot."""
        xmin_text, xmax_text, xip_text = text.split(":")
        xmin, xmax = int(xmin_text), int(xmax_text)
        xip = tuple(int(t) for t in xip_text.split(",")) if xip_text else ()
        if not 0 <= xmin <= xmax or any(not xmin <= t < xmax for t in xip):
            raise ValueError(f"inconsistent snapshot {text!r}")
        if list(xip) != sorted(set(xip)):
            raise ValueError(f"unsorted snapshot {text!r}")
        return cls(xmin, xmax, xip)


_NOTHING = Snapshot(0, 0)
START_CURSOR = Cursor(0, 0)


@dataclass(frozen=True)
class Position:
    base: Snapshot
    top: Snapshot
    after: Cursor = START_CURSOR  # in a finished batch: its last event

    @classmethod
    def of_cursor(cls, cursor: Cursor) -> Position:
        """The position of the linear cursor (txid, event id) that servers
        before commit-order delivery stored, and that the addon writes when a
        manager moves a device to an event: everything up to it, no more.
        Converting it this way makes no device resync on upgrade."""
        if cursor == Cursor(0, 0):
            return START
        before = Snapshot(cursor.txid, cursor.txid)
        through = Snapshot(cursor.txid + 1, cursor.txid + 1)
        return cls(before, through, cursor)

    @property
    def finished(self) -> bool:
        return self.base == self.top

    @property
    def order_key(self) -> tuple[tuple[int, int], tuple[int, int], Cursor]:
        """Positions handed to one device grow along this key."""
        return (self.base.order_key, self.top.order_key, self.after)

    def delivered(self, txid: int, event_id: int) -> bool:
        if self.base.visible(txid):
            return True
        return self.top.visible(txid) and Cursor(txid, event_id) <= self.after

    @cached_property
    def low_water(self) -> Cursor:
        """A linear cursor with every event up to it delivered (archiving,
        statistics and the purge check compare linear cursors): the last
        event served, unless a transaction older than it was still running
        then; in that case every transaction below the oldest one still
        running at `base` (Cursor(t, 0): event ids start at 1)."""
        if self.after.txid <= self.top.xmin:
            # Every transaction below after.txid is visible in `top`, so it
            # is delivered up to `after`; after's own is wholly visible.
            return self.after
        return Cursor(self.base.xmin, 0)

    def text(self) -> str:
        return self._text

    @cached_property
    def _text(self) -> str:
        # Written once per position: every pull writes its positions and signs
        # one into its token.
        return f"{self.base.text()};{self.top.text()};{self.after.txid}:{self.after.event_id}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Raises ValueError on anything but a well-formed position."""
        return _parse_position(text)


# Devices at the head share their positions, and every pull reads two from
# its state and one from its token: parse each text once. Positions are
# immutable, so the same object serves every pull that names it.
@lru_cache(maxsize=4096)
def _parse_position(text: str) -> Position:
    base_text, top_text, after_text = text.split(";")
    base, top = Snapshot.parse(base_text), Snapshot.parse(top_text)
    txid_text, event_text = after_text.split(":")
    after = Cursor(int(txid_text), int(event_text))
    if after.txid < 0 or after.event_id < 0:
        raise ValueError(f"inconsistent position {text!r}")
    return Position(base, top, after)


START = Position(_NOTHING, _NOTHING)
