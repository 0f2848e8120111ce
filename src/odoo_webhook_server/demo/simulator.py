"""A simulated Odoo writing realistic events, for the demo.

Each "user action" is one transaction writing its events with the same
multi-row INSERT the addon uses, followed by one NOTIFY, as Odoo would.
"""

from __future__ import annotations

import random
import threading

import psycopg

from ..storage.capture import NOTIFY_CHANNEL, CapturedChange, insert_events_sql
from ..sync.clock import utcnow

__all__ = ["OdooSimulator"]

_PARTNER_FIELDS = ("name", "phone", "email", "street", "city", "vat")
_ORDER_FIELDS = ("state", "order_line", "amount_total", "commitment_date", "note")
_PICKING_FIELDS = ("state", "scheduled_date", "move_ids", "carrier_tracking_ref")
_PRODUCT_FIELDS = ("list_price", "name", "description_sale")


class OdooSimulator:
    def __init__(self, conninfo: str, *, seed: int = 18, user_ids: tuple[int, ...] = (2,)) -> None:
        self._conninfo = conninfo
        self._random = random.Random(seed)
        self._user_ids = user_ids
        self._next_id: dict[str, int] = {}
        self._alive: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _new(self, model: str) -> int:
        record_id = self._next_id.get(model, 1)
        self._next_id[model] = record_id + 1
        self._alive.setdefault(model, []).append(record_id)
        return record_id

    def _existing(self, model: str) -> int | None:
        alive = self._alive.get(model)
        return self._random.choice(alive) if alive else None

    def _action(self) -> list[CapturedChange]:
        """One business action: a new customer, an order, a delivery..."""
        r = self._random
        kind = r.choices(
            ["partner", "order", "confirm", "deliver", "price", "delete"], [2, 3, 3, 3, 1, 1]
        )[0]
        if kind == "partner" or not self._alive.get("res.partner"):
            return [CapturedChange("res.partner", self._new("res.partner"), "create")]
        if kind == "order":
            partner = self._existing("res.partner")
            assert partner is not None
            return [
                CapturedChange("sale.order", self._new("sale.order"), "create"),
                CapturedChange("res.partner", partner, "write", ("sale_order_count",)),
            ]
        if kind == "confirm" and self._alive.get("sale.order"):
            order = self._existing("sale.order")
            assert order is not None
            return [
                CapturedChange("sale.order", order, "write", ("state",)),
                CapturedChange("stock.picking", self._new("stock.picking"), "create"),
            ]
        if kind == "deliver" and self._alive.get("stock.picking"):
            picking = self._existing("stock.picking")
            assert picking is not None
            return [
                CapturedChange(
                    "stock.picking", picking, "write", tuple(r.sample(_PICKING_FIELDS, 2))
                )
            ]
        if kind == "price":
            if not self._alive.get("product.template"):
                return [CapturedChange("product.template", self._new("product.template"), "create")]
            product = self._existing("product.template")
            assert product is not None
            return [
                CapturedChange(
                    "product.template", product, "write", tuple(r.sample(_PRODUCT_FIELDS, 1))
                )
            ]
        if kind == "delete" and len(self._alive.get("res.partner", [])) > 3:
            partner = self._existing("res.partner")
            assert partner is not None
            self._alive["res.partner"].remove(partner)
            return [CapturedChange("res.partner", partner, "unlink")]
        partner = self._existing("res.partner")
        assert partner is not None
        return [
            CapturedChange("res.partner", partner, "write", tuple(r.sample(_PARTNER_FIELDS, 2)))
        ]

    def run_actions(self, count: int) -> int:
        """Commit `count` actions; returns how many events were written."""
        written = 0
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            for _ in range(count):
                changes = self._action()
                sql, params = insert_events_sql(
                    changes,
                    user_id=self._random.choice(self._user_ids),
                    now=utcnow(),
                )
                with conn.transaction():
                    conn.execute(sql, params)
                    conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
                written += len(changes)
        return written

    def start(self, every_seconds: float = 3.0) -> None:
        """Keep acting in the background until `stop()`."""

        def loop() -> None:
            while not self._stop.wait(every_seconds):
                self.run_actions(self._random.randint(1, 3))

        self._thread = threading.Thread(target=loop, daemon=True, name="odoo-simulator")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
