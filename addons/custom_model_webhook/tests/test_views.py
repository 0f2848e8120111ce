# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Every screen of the menus loads and reads its records, as the web client
does, for a plain user and for a manager."""

from odoo.tests import tagged
from odoo.tests.common import new_test_user

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestViews(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="cmw_view_user", groups="base.group_user")
        cls.admin = new_test_user(
            cls.env, login="cmw_view_admin", groups="base.group_user,base.group_system"
        )
        cls.env["res.partner"].create({"name": "Something to list"})
        cls.env["user.sync.state"].create(
            {"user_id": cls.user.id, "device_id": "cmw-view", "app_type": "sales_app"}
        )

    def visible_menus(self, user):
        """The menus under Webhooks that the web client shows to `user`."""
        tree = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
        root = self.env.ref("custom_model_webhook.menu_webhook_root").id
        pending, seen = [root] if root in tree else [], []
        while pending:
            menu = tree[pending.pop()]
            seen.append(menu["id"])
            pending += menu["children"]
        return self.env["ir.ui.menu"].browse(seen)

    def open_menus(self, user):
        opened = []
        for menu in self.visible_menus(user).filtered("action"):
            action = menu.action.sudo()
            if action._name == "ir.actions.server":
                result = action.with_user(user).run()
                self.assertEqual(result["tag"], "display_notification")
                self.assertIn("events", result["params"]["message"])
                opened.append(menu.name)
                continue
            model = self.env[action.res_model].with_user(user)
            modes = [*action.view_mode.split(","), "search"]
            info = model.get_views([(False, mode) for mode in modes])
            spec = {name: {} for name in info["models"][action.res_model]["fields"]}
            if action.res_model == "res.config.settings":
                # Only this addon's settings: other apps' need their own groups.
                spec = {name: {} for name in spec if name.startswith("webhook_")}
                self.assertIn("webhook_archive_percentage", spec)
                model.create({}).web_read(spec)
            else:
                model.web_search_read([], spec, limit=80)
            opened.append(menu.name)
        return opened

    def test_a_plain_user_opens_events_and_sync_states(self):
        self.assertEqual(sorted(self.open_menus(self.user)), ["Sync States", "Webhook Updates"])

    def test_a_manager_sees_the_archive_statistics(self):
        manager = new_test_user(
            self.env,
            login="cmw_view_manager",
            groups="base.group_user,custom_model_webhook.group_webhook_manager",
        )
        self.assertIn("Archive Statistics", self.open_menus(manager))

    def test_an_administrator_opens_every_screen(self):
        self.assertEqual(
            sorted(self.open_menus(self.admin)),
            [
                "App Types",
                "Archive Statistics",
                "Settings",
                "Sync States",
                "Tracked Models",
                "Webhook Updates",
            ],
        )
