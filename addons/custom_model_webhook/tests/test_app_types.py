# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import importlib.util
from pathlib import Path

import psycopg2

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tests.common import new_test_user
from odoo.tools import mute_logger

from odoo_webhook_core.odoo_access import READABLE_MODELS_SQL
from odoo_webhook_core.app_types import DEFAULT_APP_TYPES

from ..hooks import post_init_hook, seed_app_type_groups
from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestAppTypes(WebhookCase):
    def test_the_guide_app_types_are_seeded(self):
        for default in DEFAULT_APP_TYPES:
            app_type = self.env["webhook.app.type"].search([("code", "=", default.code)])
            self.assertTrue(app_type, default.code)
            self.assertEqual(app_type.all_models, default.all_models)
            if not default.all_models:
                self.assertEqual(set(app_type.model_ids.mapped("model")), set(default.models))
        manager = self.env["webhook.app.type"].search([("code", "=", "manager_app")])
        self.assertTrue(manager.all_models)

    def test_the_install_hook_is_idempotent(self):
        def counts():
            return (
                self.env["webhook.app.type"].with_context(active_test=False).search_count([]),
                self.env["webhook.app.type.model"].search_count([]),
                self.tracked.search_count([]),
            )

        before = counts()
        post_init_hook(self.env)
        post_init_hook(self.env)
        self.assertEqual(counts(), before)

    def test_the_install_hook_keeps_a_tracked_model_switched_off(self):
        self.set_tracked("product.category", False)
        post_init_hook(self.env)
        self.assertFalse(self.tracked.search([("model", "=", "product.category")]).active)

    @mute_logger("odoo.sql_db")
    def test_codes_are_unique(self):
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env["webhook.app.type"].create({"code": "sales_app", "name": "Again"})

    @mute_logger("odoo.sql_db")
    def test_a_model_is_listed_once_per_app_type(self):
        sales = self.env["webhook.app.type"].search([("code", "=", "sales_app")])
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env["webhook.app.type.model"].create(
                {"app_type_id": sales.id, "model": "res.partner"}
            )

    def test_codes_are_identifiers(self):
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.env["webhook.app.type"].create({"code": "Sales App", "name": "Bad"})

    def test_an_app_type_edited_in_odoo_is_what_the_server_reads(self):
        crm = self.env["webhook.app.type"].create(
            {
                "code": "crm_app",
                "name": "CRM",
                "model_ids": [(0, 0, {"model": "res.partner"}), (0, 0, {"model": "crm.lead"})],
            }
        )
        self.env.flush_all()
        # The server's query (storage/app_types.py, find_app_type), on Odoo's rows.
        self.env.cr.execute(
            """
            SELECT t.all_models, array_agg(m.model ORDER BY m.model)
              FROM webhook_app_type t JOIN webhook_app_type_model m ON m.app_type_id = t.id
             WHERE t.code = %s AND t.active GROUP BY t.id
            """,
            ("crm_app",),
        )
        self.assertEqual(self.env.cr.fetchone(), (False, ["crm.lead", "res.partner"]))
        self.assertEqual(crm.model_ids.filtered(lambda m: m.model == "res.partner").tracked, True)
        self.assertEqual(crm.model_ids.filtered(lambda m: m.model == "crm.lead").tracked, False)


def _load_migration(version):
    path = Path(__file__).parent.parent / "migrations" / version / "post-migrate.py"
    spec = importlib.util.spec_from_file_location(f"cmw_migration_{version}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestAppTypeGroups(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager_app = cls.env["webhook.app.type"].search([("code", "=", "manager_app")])
        cls.defaults = cls.env.ref("base.group_system") | cls.env.ref(
            "custom_model_webhook.group_webhook_manager"
        )

    def test_manager_app_is_for_administrators_and_webhook_managers(self):
        self.assertEqual(self.manager_app.group_ids, self.defaults)
        for code in ("sales_app", "delivery_app"):
            app_type = self.env["webhook.app.type"].search([("code", "=", code)])
            self.assertFalse(app_type.group_ids, code)

    def test_the_hooks_keep_an_administrators_choice(self):
        employees = self.env.ref("base.group_user")
        self.manager_app.group_ids = employees
        post_init_hook(self.env)
        seed_app_type_groups(self.env)
        self.assertEqual(self.manager_app.group_ids, employees)

    def test_the_upgrade_to_3_1_gives_existing_databases_the_default(self):
        migration = _load_migration("18.0.3.1.0")
        self.manager_app.group_ids = False  # as a database of 18.0.3.0.0 has it
        migration.migrate(self.env.cr, "18.0.3.0.0")
        self.manager_app.invalidate_recordset()
        self.assertEqual(self.manager_app.group_ids, self.defaults)
        # An administrator's choice made before is kept; a new install is left to the hook.
        employees = self.env.ref("base.group_user")
        self.manager_app.group_ids = employees
        migration.migrate(self.env.cr, "18.0.3.0.0")
        self.manager_app.group_ids = False
        migration.migrate(self.env.cr, None)
        self.manager_app.invalidate_recordset()
        self.assertFalse(self.manager_app.group_ids)

    def test_the_groups_are_what_the_server_reads(self):
        self.env.flush_all()
        # The server's query (storage/app_types.py, find_app_type), on Odoo's rows.
        self.env.cr.execute(
            """
            SELECT ARRAY(SELECT g.group_id FROM webhook_app_type_group_rel g
                          WHERE g.app_type_id = t.id ORDER BY g.group_id)
              FROM webhook_app_type t WHERE t.code = 'manager_app'
            """
        )
        self.assertEqual(self.env.cr.fetchone()[0], sorted(self.defaults.ids))

    def test_the_servers_readable_models_are_odoos(self):
        """storage/odoo_users.py reads Odoo's access rights as
        ir.model.access._get_allowed_models('read') does."""
        plain = new_test_user(self.env, login="cmw_acl_plain", groups="base.group_user")
        portal = new_test_user(self.env, login="cmw_acl_portal", groups="base.group_portal")
        admin = self.env.ref("base.user_admin")
        self.env.flush_all()
        for user in (plain, portal, admin):
            self.env.cr.execute(
                "SELECT gid FROM res_groups_users_rel WHERE uid = %s", (user.id,)
            )
            groups = [gid for (gid,) in self.env.cr.fetchall()]
            self.env.cr.execute(READABLE_MODELS_SQL, {"groups": groups})
            server = {model for (model,) in self.env.cr.fetchall()}
            odoo = self.env["ir.model.access"].with_user(user)._get_allowed_models("read")
            self.assertEqual(server, set(odoo), user.login)
        self.assertIn("res.partner", server)
