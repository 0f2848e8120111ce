# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import psycopg2

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo_webhook_server.sync.app_types import DEFAULT_APP_TYPES

from ..hooks import post_init_hook
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
