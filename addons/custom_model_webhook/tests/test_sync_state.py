# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import psycopg2

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import WebhookCase

CURSOR = "ack_txid, last_event_id, issued_txid, issued_event_id, is_active"


@tagged("post_install", "-at_install")
class TestSyncState(WebhookCase):
    def setUp(self):
        super().setUp()
        self.partners = self.env["res.partner"].create([{"name": "A"}, {"name": "B"}])
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, txid FROM update_webhook WHERE id > %s ORDER BY id", (self.events_before,)
        )
        (self.first_id, self.txid), (self.last_id, _txid) = self.env.cr.fetchall()
        self.state = self.env["user.sync.state"].create(
            {"user_id": self.env.uid, "device_id": "cmw-phone", "app_type": "sales_app"}
        )
        self.env.flush_all()
        # Where the server leaves a device after a few pulls.
        self.env.cr.execute(
            """
            UPDATE user_sync_state
               SET ack_txid = %s, last_event_id = %s, issued_txid = %s, issued_event_id = %s,
                   sync_count = 3, last_sync_time = now() AT TIME ZONE 'UTC'
             WHERE id = %s
            """,
            (self.txid, self.first_id, self.txid, self.last_id, self.state.id),
        )
        self.state.invalidate_recordset()

    def cursor(self):
        self.env.flush_all()
        self.env.cr.execute(f"SELECT {CURSOR} FROM user_sync_state WHERE id = %s", (self.state.id,))
        return self.env.cr.fetchone()

    def test_a_new_state_starts_at_the_beginning(self):
        state = self.env["user.sync.state"].create(
            {"user_id": self.env.uid, "device_id": "cmw-new", "app_type": "sales_app"}
        )
        self.assertEqual(
            (state.ack_txid, state.last_event_id, state.issued_txid, state.issued_event_id),
            (0, 0, 0, 0),
        )
        self.assertTrue(state.is_active)

    def test_reset_starts_the_device_over_and_reactivates_it(self):
        self.state.action_deactivate()
        self.state.action_reset()
        self.assertEqual(self.cursor(), (0, 0, 0, 0, True))
        self.assertEqual(self.state.last_event_id, 0, "the ORM sees the reset")
        self.assertEqual(self.state.sync_count, 3, "history is kept")

    def test_writing_last_event_id_zero_moves_the_whole_cursor(self):
        # The guide's troubleshooting tip.
        self.state.write({"last_event_id": 0})
        self.assertEqual(self.cursor(), (0, 0, 0, 0, True))

    def test_writing_last_event_id_moves_the_cursor_after_that_event(self):
        self.state.write({"last_event_id": self.last_id})
        self.assertEqual(self.cursor(), (self.txid, self.last_id, self.txid, self.last_id, True))

    def test_writing_an_unknown_last_event_id_is_refused(self):
        with self.assertRaises(UserError):
            self.state.write({"last_event_id": self.last_id + 1000})

    def test_deactivate(self):
        self.state.action_deactivate()
        self.assertFalse(self.cursor()[-1])
        self.assertEqual(self.cursor()[:4], (self.txid, self.first_id, self.txid, self.last_id))

    @mute_logger("odoo.sql_db")
    def test_one_state_per_user_and_device(self):
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env["user.sync.state"].create(
                {"user_id": self.env.uid, "device_id": "cmw-phone", "app_type": "delivery_app"}
            )
        other = self.new_user("cmw_other_device_owner", "base.group_user")
        self.env["user.sync.state"].create(
            {"user_id": other.id, "device_id": "cmw-phone", "app_type": "sales_app"}
        )

    def test_deleting_a_user_deletes_their_states(self):
        user = self.new_user("cmw_leaving", "base.group_user")
        state = self.env["user.sync.state"].create(
            {"user_id": user.id, "device_id": "cmw-x", "app_type": "sales_app"}
        )
        user.unlink()
        self.assertFalse(state.exists())
