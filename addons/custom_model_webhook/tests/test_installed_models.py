# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The default tracked models of the modules installed on this database
produce events; those of modules that are not installed are skipped."""

from odoo.tests import tagged

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestInstalledModels(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Customer"})

    def assertLifeCaptured(self, record, vals):
        """create (already done, and checked by the other tests), write
        `vals`, unlink: the record's events end with its unlink, and one write
        carries the written fields (the model's own write() and recomputed
        fields may add some)."""
        self.as_if_created_earlier()  # else the write is part of the creation
        record.write(vals)
        model, record_id = record._name, record.id
        record.unlink()
        events = [
            (e["event"], set((e["changed_fields"] or "").split(",")) - {""})
            for e in self.new_events(model)
            if e["record_id"] == record_id
        ]
        self.assertEqual(events[-1], ("unlink", set()), events)
        self.assertTrue(
            any(kind == "write" and set(vals) <= fields for kind, fields in events[:-1]),
            events,
        )

    def require(self, model):
        if model not in self.env:
            self.skipTest(f"{model} is not installed on this database")

    def test_product_category(self):
        self.require("product.category")
        category = self.env["product.category"].create({"name": "Tyres"})
        self.assertLifeCaptured(category, {"name": "Winter tyres"})

    def test_product_template(self):
        self.require("product.template")
        product = self.env["product.template"].create({"name": "Tyre"})
        self.assertLifeCaptured(product, {"list_price": 80.0})

    def test_sale_order(self):
        self.require("sale.order")
        order = self.env["sale.order"].create({"partner_id": self.customer.id})
        self.assertLifeCaptured(order, {"client_order_ref": "PO-1"})

    def test_stock_picking(self):
        self.require("stock.picking")
        picking_type = self.env["stock.picking.type"].search([("code", "=", "outgoing")], limit=1)
        if not picking_type:
            self.skipTest("no outgoing operation type")
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "partner_id": self.customer.id,
                "location_id": picking_type.default_location_src_id.id,
                "location_dest_id": self.env.ref("stock.stock_location_customers").id,
            }
        )
        self.assertLifeCaptured(picking, {"origin": "SO-1"})

    def test_purchase_order(self):
        self.require("purchase.order")
        order = self.env["purchase.order"].create({"partner_id": self.customer.id})
        self.assertLifeCaptured(order, {"partner_ref": "Q-1"})

    def test_account_move(self):
        self.require("account.move")
        journal = self.env["account.journal"].search([("type", "=", "general")], limit=1)
        if not journal:
            self.skipTest("no miscellaneous journal (no chart of accounts)")
        move = self.env["account.move"].create({"move_type": "entry", "journal_id": journal.id})
        self.assertLifeCaptured(move, {"ref": "Adjustment"})
