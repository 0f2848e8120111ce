# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Shared helpers of the addon's tests.

Only base models (res.partner, res.partner.category, res.users) are used, so
the tests pass on a database that has none of sale, stock or account.
"""

import contextlib
from unittest.mock import patch

from odoo.sql_db import Cursor
from odoo.tests.common import TransactionCase, new_test_user


class WebhookCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.tracked = cls.env["webhook.tracked.model"].with_context(active_test=False)
        # res.partner is tracked by default, res.partner.category is not; an
        # administrator may have changed that on this database.
        cls.set_tracked("res.partner", True)
        cls.set_tracked("res.partner.category", False)

    def setUp(self):
        super().setUp()
        self.mark()

    def as_if_created_earlier(self):
        """Make the rows that this test transaction created look created by
        an earlier, committed transaction, then mark().

        A test runs in one transaction, and the capture treats the writes of a
        row created in the same transaction as part of its creation (the
        device is told "create" and reads the final row). Tests of write
        events on records they created call this first, as if the creation
        had committed before the change under test.
        """
        self.env.flush_all()
        models = set()
        for name in self.env["webhook.tracked.model"]._get_tracked_model_names():
            if name in self.env and self.env[name]._auto:
                models |= {name, *self.env[name]._inherits}  # and the parents it inherits
        for name in models:
            model = self.env[name]
            if "create_date" in model._fields:
                self.env.cr.execute(
                    f"UPDATE \"{model._table}\" SET create_date = create_date - interval '1 hour'"
                    " WHERE create_date = now() AT TIME ZONE 'UTC'"
                )
                model.invalidate_model(["create_date"])
        self.mark()

    def mark(self):
        """new_events() returns the events captured after this call."""
        self.env.flush_all()
        self.env.cr.execute("SELECT COALESCE(max(id), 0) FROM update_webhook")
        self.events_before = self.env.cr.fetchone()[0]

    @classmethod
    def set_tracked(cls, model, active):
        record = cls.tracked.search([("model", "=", model)])
        if record:
            record.active = active
        elif active:
            cls.tracked.create({"model": model})

    def new_events(self, model=None):
        """Events captured since setUp, oldest first, as dicts (read with SQL,
        as the sync server reads them)."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT id, txid, model, record_id, event, changed_fields, user_id,
                   is_archived, min_users_synced, "timestamp"
              FROM update_webhook
             WHERE id > %s AND (%s IS NULL OR model = %s)
             ORDER BY id
            """,
            (self.events_before, model, model),
        )
        return self.env.cr.dictfetchall()

    def summary(self, events):
        return [(e["model"], e["record_id"], e["event"]) for e in events]

    @contextlib.contextmanager
    def statements(self):
        """Collect every SQL statement sent to PostgreSQL in the block."""
        sent = []
        execute = Cursor.execute

        def spy(cursor, query, params=None, log_exceptions=True):
            sent.append(str(query))
            return execute(cursor, query, params, log_exceptions)

        with patch.object(Cursor, "execute", spy):
            yield sent

    @staticmethod
    def event_inserts(statements):
        return [s for s in statements if s.lstrip().startswith("INSERT INTO update_webhook ")]

    def new_user(self, login, groups):
        return new_test_user(self.env, login=login, groups=groups)
