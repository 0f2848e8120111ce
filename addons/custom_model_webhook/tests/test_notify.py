# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""NOTIFY after commit, seen by a real listener: these tests commit in their
own cursors (the test transaction never commits), and clean up after."""

import select
import time

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import tagged

from odoo_webhook_core.capture import NOTIFY_CHANNEL

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestNotify(WebhookCase):
    def setUp(self):
        super().setUp()
        self.committed_partner_ids = []
        self.addCleanup(self._delete_committed)
        listener = db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(self._close_listener, listener)
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        listener.commit()
        self.connection = listener._cnx

    @staticmethod
    def _close_listener(listener):
        listener.execute("UNLISTEN *")
        listener.commit()
        listener.close()

    def _delete_committed(self):
        if not self.committed_partner_ids:
            return
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(
                self.committed_partner_ids
            ).exists().unlink()
            cr.execute(
                "DELETE FROM update_webhook WHERE model = 'res.partner' AND record_id = ANY(%s)",
                (self.committed_partner_ids,),
            )

    def notifications(self, wait=2.0):
        """Notifications received within `wait` seconds."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            select.select([self.connection], [], [], max(0.0, deadline - time.monotonic()))
            self.connection.poll()
        received = [(n.channel, n.payload) for n in self.connection.notifies]
        self.connection.notifies.clear()
        return received

    def test_one_notify_per_committed_transaction(self):
        """At commit: "<txid>;<models>", once, whatever the flushes."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cr.execute("SELECT txid_current()")
            txid = cr.fetchone()[0]
            partners = env["res.partner"].create([{"name": "N1"}, {"name": "N2"}])
            self.committed_partner_ids += partners.ids
            partners.write({"comment": "twice"})
            env.flush_all()
            with cr.savepoint():  # a flush in the middle of the transaction
                partners[0].write({"comment": "thrice"})
            env["res.partner"].create({"name": "N3"})
            self.committed_partner_ids += env["res.partner"].search([("name", "=", "N3")]).ids
            self.assertEqual(self.notifications(wait=0.3), [], "nothing before the commit")
        self.assertEqual(self.notifications(), [(NOTIFY_CHANNEL, f"{txid};res.partner")])

    def test_no_notify_for_a_rolled_back_transaction(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["res.partner"].create({"name": "Never committed"})
            env.flush_all()
            cr.flush()
            cr.rollback()
        self.assertEqual(self.notifications(), [])

    def test_no_notify_without_events(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["res.partner.category"].create({"name": "Untracked"}).unlink()
        self.assertEqual(self.notifications(), [])
