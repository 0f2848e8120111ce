# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The tables Odoo creates for the addon are the server's schema.

The server's `init-db` creates its schema (tables.sql + extras) in a bare
database; here the same SQL runs in a temporary schema of this database and
every column (name, type, nullability, default) and index (name, definition)
of the shared tables must be equal to what Odoo created in public.
"""

import re

from odoo.tests import tagged

from odoo_webhook_core.schema import EXTRA_TABLES, extras_sql, tables_sql

from .common import WebhookCase

TABLES = (
    "update_webhook",
    "user_sync_state",
    "webhook_app_type",
    "webhook_app_type_model",
    "webhook_app_type_group_rel",
)
SCRATCH = "cmw_server_schema"

_COLUMNS = """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid)
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""

_INDEXES = """
    SELECT i.tablename, i.indexname, i.indexdef
      FROM pg_indexes i
     WHERE i.schemaname = %s AND i.tablename = ANY(%s)
"""

# Unique, primary, check constraints, and foreign keys between the shared
# tables (those to res_users exist only in Odoo: a bare database has no users).
_CONSTRAINTS = """
    SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_class f ON f.oid = k.confrelid
     WHERE n.nspname = %s AND c.relname = ANY(%s)
       AND (k.contype IN ('p', 'u', 'c') OR f.relname = ANY(%s))
"""


@tagged("post_install", "-at_install")
class TestSchema(WebhookCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cr = cls.env.cr
        cr.execute("SHOW search_path")
        search_path = cr.fetchone()[0]
        # Rolled back with the test transaction.
        cr.execute(f"CREATE SCHEMA {SCRATCH}")
        cr.execute(f"SET LOCAL search_path TO {SCRATCH}")
        cr.execute(tables_sql())
        for table in EXTRA_TABLES:
            cr.execute(extras_sql(table))
        cr.execute(f"SET LOCAL search_path TO {search_path}")

    def catalog(self, schema):
        cr = self.env.cr
        cr.execute(_COLUMNS, (schema, list(TABLES)))
        columns = {
            (table, column): (kind, notnull, self.neutral(default, schema))
            for table, column, kind, notnull, default in cr.fetchall()
        }
        cr.execute(_INDEXES, (schema, list(TABLES)))
        indexes = {
            (table, name): self.neutral(definition, schema)
            for table, name, definition in cr.fetchall()
        }
        cr.execute(_CONSTRAINTS, (schema, list(TABLES), list(TABLES)))
        constraints = {
            (table, name): self.neutral(definition, schema)
            for table, name, definition in cr.fetchall()
        }
        return columns, indexes, constraints

    @staticmethod
    def neutral(sql, schema):
        """`sql` without the schema's name in it."""
        if sql is None:
            return None
        return re.sub(rf"\b{schema}\.", "", sql)

    def test_the_shared_tables_are_the_servers(self):
        odoo_columns, odoo_indexes, odoo_constraints = self.catalog("public")
        server_columns, server_indexes, server_constraints = self.catalog(SCRATCH)
        self.assertEqual({t for t, _c in server_columns}, set(TABLES))
        self.assertEqual(odoo_columns, server_columns)
        self.assertEqual(odoo_indexes, server_indexes)
        self.assertEqual(odoo_constraints, server_constraints)

    def test_the_cursor_columns_are_not_null(self):
        # What Odoo drops on module updates for columns that are not fields.
        columns, _indexes, _constraints = self.catalog("public")
        self.assertTrue(columns[("update_webhook", "txid")][1])
        self.assertEqual(columns[("update_webhook", "txid")][2], "txid_current()")
        for column in ("ack_txid", "issued_txid", "issued_event_id"):
            self.assertTrue(columns[("user_sync_state", column)][1], column)
