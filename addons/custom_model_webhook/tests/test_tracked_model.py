# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import psycopg2

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..models.webhook_tracked_model import DEFAULT_TRACKED_MODELS
from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestTrackedModel(WebhookCase):
    def test_a_model_tracked_from_the_ui_is_captured_at_once(self):
        category = self.env["res.partner.category"].create({"name": "Before"})
        self.assertEqual(self.new_events(), [])

        form = Form(self.env["webhook.tracked.model"])
        form.model_id = self.env["ir.model"]._get("res.partner.category")
        self.assertEqual(form.model, "res.partner.category", "picking the model fills its name")
        tracked = form.save()
        self.assertTrue(tracked.installed)

        category.write({"name": "After"})
        new = self.env["res.partner.category"].create({"name": "New"})
        self.assertEqual(
            sorted(self.summary(self.new_events())),
            [
                ("res.partner.category", category.id, "write"),
                ("res.partner.category", new.id, "create"),
            ],
        )

    def test_untracking_stops_the_capture_at_once(self):
        partner = self.env["res.partner"].create({"name": "Tracked"})
        self.tracked.search([("model", "=", "res.partner")]).active = False
        partner.write({"comment": "not captured"})
        self.env["res.partner"].create({"name": "Not captured"})
        self.assertEqual(self.summary(self.new_events()), [("res.partner", partner.id, "create")])

    def test_defaults_are_tracked_by_name_installed_or_not(self):
        names = set(self.tracked.search([]).mapped("model"))
        self.assertLessEqual(set(DEFAULT_TRACKED_MODELS) - {"res.partner"}, names)
        for tracked in self.tracked.search([("model", "in", DEFAULT_TRACKED_MODELS)]):
            self.assertEqual(tracked.installed, tracked.model in self.env, tracked.model)
            self.assertEqual(bool(tracked.model_id), tracked.model in self.env, tracked.model)

    def test_the_tracked_set_is_cached(self):
        names = self.env["webhook.tracked.model"]._get_tracked_model_names()
        self.assertIn("res.partner", names)
        with self.statements() as sent:
            self.env["webhook.tracked.model"]._get_tracked_model_names()
        self.assertEqual(sent, [])

    def test_models_that_cannot_be_tracked_are_refused(self):
        for name in ("update.webhook", "user.sync.state", "webhook.tracked.model"):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.tracked.create({"model": name})
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.tracked.create({"model": "res.config.settings"})  # transient
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.tracked.create({"model": "Not A Model"})
        # Not installed (yet) is fine: tracked by name.
        self.tracked.create({"model": "x_cmw.not_installed_yet"})

    @mute_logger("odoo.sql_db")
    def test_a_model_is_tracked_once(self):
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.tracked.create({"model": "res.partner"})

    def test_the_model_picker_offers_stored_models(self):
        for model_name in ("webhook.tracked.model", "webhook.app.type.model"):
            field = self.env[model_name]._fields["model_id"]
            domain = field.domain if isinstance(field.domain, list) else []
            offered = self.env["ir.model"].name_search("Contact", args=domain, limit=100)
            self.assertTrue(offered, model_name)
