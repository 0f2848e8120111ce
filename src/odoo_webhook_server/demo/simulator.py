"""A simulated Odoo changing business records, for the demo.

It keeps a few tables shaped like Odoo's (partners, orders, pickings,
products) with the real capture triggers on them (storage/capture.py), and
changes their rows the way Odoo's users would: each "user action" is one
transaction of plain INSERT / UPDATE / DELETE statements, naming its Odoo
user as the addon's ORM hook does. The events, and the NOTIFY that wakes the
long polls, come from the triggers, exactly as in a real Odoo.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import psycopg
from odoo_webhook_core.capture import TrackedTable, set_author_sql, sync_capture_triggers

__all__ = ["BUSINESS_TABLES", "OdooSimulator"]

# Odoo's columns, trimmed to what the demo changes.
_LOG_ACCESS = "create_uid int4, create_date timestamp, write_uid int4, write_date timestamp"
BUSINESS_TABLES = f"""
CREATE TABLE IF NOT EXISTS res_partner (
    id serial PRIMARY KEY, name varchar NOT NULL, phone varchar, email varchar,
    street varchar, city varchar, sale_order_count int4 DEFAULT 0, {_LOG_ACCESS});
CREATE TABLE IF NOT EXISTS product_template (
    id serial PRIMARY KEY, name jsonb NOT NULL, list_price numeric, description_sale text,
    {_LOG_ACCESS});
CREATE TABLE IF NOT EXISTS sale_order (
    id serial PRIMARY KEY, name varchar NOT NULL,
    partner_id int4 REFERENCES res_partner ON DELETE SET NULL,
    state varchar NOT NULL DEFAULT 'draft', amount_total numeric, note text, {_LOG_ACCESS});
CREATE TABLE IF NOT EXISTS stock_picking (
    id serial PRIMARY KEY, origin varchar,
    sale_id int4 REFERENCES sale_order ON DELETE CASCADE,
    state varchar NOT NULL DEFAULT 'assigned', carrier_tracking_ref varchar, {_LOG_ACCESS});
"""
TRACKED_TABLES = (
    TrackedTable("res.partner", "res_partner"),
    TrackedTable("product.template", "product_template"),
    TrackedTable("sale.order", "sale_order"),
    TrackedTable("stock.picking", "stock_picking"),
)
_CITIES = ("Brussels", "Namur", "Liège", "Ghent", "Antwerp")


class OdooSimulator:
    def __init__(self, conninfo: str, *, seed: int = 18, user_ids: tuple[int, ...] = (2,)) -> None:
        self._conninfo = conninfo
        self._random = random.Random(seed)
        self._user_ids = user_ids
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        """The business tables and their capture triggers (idempotent)."""
        with psycopg.connect(self._conninfo) as conn:
            conn.execute(BUSINESS_TABLES)
            sync_capture_triggers(conn.cursor(), TRACKED_TABLES)

    def _pick(self, conn: psycopg.Connection[Any], table: str, where: str = "true") -> int | None:
        row = conn.execute(
            f"SELECT id FROM {table} WHERE {where} ORDER BY random() LIMIT 1"
        ).fetchone()
        return None if row is None else int(row[0])

    def _act(self, conn: psycopg.Connection[Any], user_id: int) -> None:
        """One business action: a new customer, an order, a delivery..."""
        r = self._random
        stamp = f"{user_id}, now() AT TIME ZONE 'UTC'"
        kind = r.choices(
            ["partner", "order", "confirm", "deliver", "price", "delete", "edit"],
            [2, 3, 3, 3, 1, 1, 2],
        )[0]
        partner = self._pick(conn, "res_partner")
        if kind == "partner" or partner is None:
            conn.execute(
                "INSERT INTO res_partner (name, city, create_uid, create_date, write_uid,"
                f" write_date) VALUES (%s, %s, {stamp}, {stamp})",
                (f"Customer {r.randint(1, 9999)}", r.choice(_CITIES)),
            )
        elif kind == "order":
            conn.execute(
                "INSERT INTO sale_order (name, partner_id, amount_total, create_uid,"
                f" create_date, write_uid, write_date) VALUES (%s, %s, %s, {stamp}, {stamp})",
                (f"S{r.randint(10000, 99999)}", partner, r.randint(50, 5000)),
            )
            # a stored computed field of the customer, recomputed by Odoo
            conn.execute(
                "UPDATE res_partner SET sale_order_count = sale_order_count + 1 WHERE id = %s",
                (partner,),
            )
        elif kind == "confirm" and (order := self._pick(conn, "sale_order", "state = 'draft'")):
            conn.execute(
                "UPDATE sale_order SET state = 'sale', write_uid = %s,"
                " write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
                (user_id, order),
            )
            conn.execute(
                "INSERT INTO stock_picking (origin, sale_id, create_uid, create_date, write_uid,"
                f" write_date) SELECT name, id, {stamp}, {stamp} FROM sale_order WHERE id = %s",
                (order,),
            )
        elif kind == "deliver" and (
            picking := self._pick(conn, "stock_picking", "state = 'assigned'")
        ):
            conn.execute(
                "UPDATE stock_picking SET state = 'done', carrier_tracking_ref = %s,"
                " write_uid = %s, write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
                (f"TRK{r.randint(100000, 999999)}", user_id, picking),
            )
        elif kind == "price":
            product = self._pick(conn, "product_template")
            if product is None:
                conn.execute(
                    "INSERT INTO product_template (name, list_price, create_uid, create_date,"
                    f" write_uid, write_date) VALUES (%s, %s, {stamp}, {stamp})",
                    (f'{{"en_US": "Product {r.randint(1, 999)}"}}', r.randint(5, 500)),
                )
            else:
                conn.execute(
                    "UPDATE product_template SET list_price = %s, write_uid = %s,"
                    " write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
                    (r.randint(5, 500), user_id, product),
                )
        elif kind == "delete" and self._count(conn, "res_partner") > 3:
            # its orders lose their customer: ON DELETE SET NULL, captured too
            conn.execute("DELETE FROM res_partner WHERE id = %s", (partner,))
        else:
            conn.execute(
                "UPDATE res_partner SET phone = %s, street = %s, write_uid = %s,"
                " write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
                (
                    f"+32 2 {r.randint(100, 999)} {r.randint(10, 99)} {r.randint(10, 99)}",
                    f"Rue {r.randint(1, 200)}",
                    user_id,
                    partner,
                ),
            )

    def run_actions(self, count: int) -> int:
        """Commit `count` actions; returns how many events they captured."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            before = self._count(conn, "update_webhook")
            for _ in range(count):
                user_id = self._random.choice(self._user_ids)
                with conn.transaction():
                    conn.execute(*set_author_sql(user_id))
                    self._act(conn, user_id)
            return self._count(conn, "update_webhook") - before

    @staticmethod
    def _count(conn: psycopg.Connection[Any], table: str) -> int:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return 0 if row is None else int(row[0])

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
