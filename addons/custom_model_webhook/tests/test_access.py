# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import new_test_user

from .common import WebhookCase

USER = "custom_model_webhook.group_webhook_user"
MANAGER = "custom_model_webhook.group_webhook_manager"


@tagged("post_install", "-at_install")
class TestAccess(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls._user("cmw_alice", "base.group_user,base.group_partner_manager")
        cls.bob = cls._user("cmw_bob", "base.group_user")
        cls.manager = cls._user("cmw_manager", f"base.group_user,{MANAGER}")
        cls.admin = cls._user("cmw_admin", "base.group_user,base.group_system")
        states = cls.env["user.sync.state"]
        cls.alice_state = states.create(
            {"user_id": cls.alice.id, "device_id": "alice-phone", "app_type": "sales_app"}
        )
        cls.bob_state = states.create(
            {"user_id": cls.bob.id, "device_id": "bob-phone", "app_type": "delivery_app"}
        )

    @classmethod
    def _user(cls, login, groups):
        return new_test_user(cls.env, login=login, groups=groups)

    def test_groups(self):
        self.assertTrue(self.bob.has_group(USER), "every internal user is a Webhook User")
        self.assertFalse(self.bob.has_group(MANAGER))
        self.assertTrue(self.manager.has_group(USER))
        self.assertTrue(self.admin.has_group(MANAGER), "administrators are managers")

    def test_a_user_reads_events_but_never_changes_them(self):
        partner = self.env["res.partner"].with_user(self.alice).create({"name": "By Alice"})
        events = self.env["update.webhook"].with_user(self.bob)
        event = events.search([("model", "=", "res.partner"), ("record_id", "=", partner.id)])
        self.assertEqual(event.event, "create")
        self.assertEqual(event.user_id, self.alice, "captured for a user who cannot create events")
        with self.assertRaises(AccessError):
            event.write({"is_archived": True})
        with self.assertRaises(AccessError):
            event.unlink()
        with self.assertRaises(AccessError):
            events.create(
                {
                    "model": "res.partner",
                    "record_id": 1,
                    "event": "write",
                    "timestamp": "2026-01-01",
                }
            )

    def test_a_user_sees_only_their_own_sync_states(self):
        states = self.env["user.sync.state"].with_user(self.bob)
        self.assertEqual(states.search([]), self.bob_state)
        with self.assertRaises(AccessError):
            self.alice_state.with_user(self.bob).read(["device_id"])
        with self.assertRaises(AccessError):
            self.bob_state.with_user(self.bob).write({"is_active": False})

    def test_a_user_cannot_reset_or_deactivate(self):
        with self.assertRaises(AccessError):
            self.bob_state.with_user(self.bob).action_reset()
        with self.assertRaises(AccessError):
            self.bob_state.with_user(self.bob).action_deactivate()
        with self.assertRaises(AccessError):
            self.env["webhook.archiver"].with_user(self.bob).auto_archive()

    def test_a_user_cannot_change_the_configuration(self):
        with self.assertRaises(AccessError):
            self.env["webhook.tracked.model"].with_user(self.bob).create({"model": "res.users"})
        with self.assertRaises(AccessError):
            self.env["webhook.app.type"].with_user(self.bob).create({"code": "x", "name": "X"})

    def test_a_manager_sees_and_manages_every_sync_state(self):
        for manager in (self.manager, self.admin):
            states = self.env["user.sync.state"].with_user(manager)
            self.assertEqual(
                states.search([("id", "in", (self.alice_state | self.bob_state).ids)]),
                self.alice_state | self.bob_state,
            )
            states.browse(self.alice_state.id).action_deactivate()
            states.browse(self.alice_state.id).action_reset()
            self.assertTrue(self.alice_state.is_active)

    def test_a_manager_manages_the_configuration_and_archiving(self):
        manager_env = self.env(user=self.manager)
        manager_env["webhook.tracked.model"].create({"model": "res.partner.category"})
        manager_env["webhook.app.type"].create({"code": "cmw_app", "name": "App"})
        self.assertIn("archived_forced", manager_env["webhook.archiver"].auto_archive())
        self.assertIn("total_events", manager_env["webhook.archiver"].get_archive_stats())

    def test_menus(self):
        def visible(user):
            tree = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
            return {self.env["ir.ui.menu"].browse(menu_id) for menu_id in tree if menu_id != "root"}

        root = self.env.ref("custom_model_webhook.menu_webhook_root")
        configuration = self.env.ref("custom_model_webhook.menu_webhook_configuration")
        tracked = self.env.ref("custom_model_webhook.menu_webhook_tracked_model")
        bob_menus = visible(self.bob)
        self.assertIn(root, bob_menus)
        self.assertIn(self.env.ref("custom_model_webhook.menu_update_webhook"), bob_menus)
        self.assertIn(self.env.ref("custom_model_webhook.menu_user_sync_state"), bob_menus)
        self.assertNotIn(configuration, bob_menus)
        self.assertNotIn(tracked, bob_menus)
        manager_menus = visible(self.manager)
        self.assertIn(configuration, manager_menus)
        self.assertIn(tracked, manager_menus)
        self.assertNotIn(self.env.ref("custom_model_webhook.menu_webhook_settings"), manager_menus)

    def test_the_server_finds_the_managers(self):
        # The server's query (storage/odoo_users.py, is_webhook_manager):
        # implied groups are stored per user, so administrators are found.
        def is_manager(user):
            self.env.flush_all()
            self.env.cr.execute(
                """
                SELECT EXISTS (
                    SELECT 1 FROM res_groups_users_rel r
                      JOIN ir_model_data d ON d.model = 'res.groups' AND d.res_id = r.gid
                     WHERE r.uid = %s AND d.module = 'custom_model_webhook'
                       AND d.name = 'group_webhook_manager')
                """,
                (user.id,),
            )
            return self.env.cr.fetchone()[0]

        self.assertTrue(is_manager(self.admin))
        self.assertTrue(is_manager(self.manager))
        self.assertFalse(is_manager(self.bob))
