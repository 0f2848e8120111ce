# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Complete capture, proven on real business flows of Sales and Inventory.

Each flow runs between two full snapshots of the tracked tables, read with
SQL. Their difference, computed here in Python and not by the capture, says
which rows were created, deleted and changed, and in which columns; the
events captured meanwhile must account for every one of them, and name
nothing else. The flows change rows by the paths Odoo takes: ORM calls,
flushes of stored computed and related fields, ON DELETE CASCADE, address
sync between partners, _inherits parents, and raw SQL.

The tests need sale and stock; on a database without them (the addon
depends on base only) they skip.
"""

from collections import defaultdict

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import SQL
from odoo.tools.sql import table_columns

from .common import WebhookCase

TRACKED = (
    "product.product",
    "product.template",
    "res.partner",
    "sale.order",
    "sale.order.line",
    "stock.move",
    "stock.picking",
)

# Never named in changed_fields: every ORM write stamps them.
IGNORED = frozenset({"write_date", "write_uid"})


def split_fields(event):
    return set(filter(None, (event["changed_fields"] or "").split(",")))


class FlowCapture:
    """What one flow did (the snapshots and their difference) and what the
    capture wrote meanwhile (its events, by record)."""

    def __init__(self, before, after, changes, events):
        self.before = before
        self.after = after
        self.changes = changes  # (model, id) -> (create | write | unlink, columns)
        self.events = events  # every event, oldest first
        self.by_record = defaultdict(list)
        for event in events:
            self.by_record[event["model"], event["record_id"]].append(event)

    def kinds(self, record):
        return [e["event"] for e in self.by_record[record._name, record.id]]

    def written(self, record):
        """The union of the changed_fields of the record's write events."""
        fields = set()
        for event in self.by_record[record._name, record.id]:
            if event["event"] == "write":
                fields |= split_fields(event)
        return fields

    def row(self, when, record):
        return getattr(self, when)[record._name][record.id]


@tagged("post_install", "-at_install")
class TestCaptureFlows(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.missing = [model for model in ("sale.order", "stock.picking") if model not in cls.env]
        if cls.missing:
            return  # setUp skips each test, saying why
        for model in TRACKED:
            cls.set_tracked(model, True)

        Partner = cls.env["res.partner"]
        cls.customer = Partner.create(
            {
                "name": "CMW Flows Trading",
                "is_company": True,
                "street": "1 Old Street",
                "city": "Oldtown",
                "zip": "1000",
            }
        )
        cls.contacts = Partner.create(
            [
                {"name": "CMW Buyer", "parent_id": cls.customer.id, "type": "contact"},
                {"name": "CMW Accountant", "parent_id": cls.customer.id, "type": "contact"},
            ]
        )

        size = cls.env["product.attribute"].create(
            {
                "name": "CMW Size",
                "create_variant": "always",
                "value_ids": [Command.create({"name": name}) for name in ("S", "M", "L")],
            }
        )
        cls.template = cls.env["product.template"].create(
            {
                "name": "CMW Shirt",
                "type": "consu",
                "is_storable": True,
                "list_price": 20.0,
                "attribute_line_ids": [
                    Command.create(
                        {"attribute_id": size.id, "value_ids": [Command.set(size.value_ids.ids)]}
                    )
                ],
            }
        )
        cls.variants = cls.template.product_variant_ids
        cls.product = cls.env["product.product"].create(
            {"name": "CMW Tyre", "type": "consu", "is_storable": True, "list_price": 80.0}
        )
        warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )
        for product in cls.variants | cls.product:
            cls.env["stock.quant"]._update_available_quantity(product, warehouse.lot_stock_id, 100)

    def setUp(self):
        super().setUp()
        if self.missing:
            self.skipTest(f"{' and '.join(self.missing)} not installed on this database")

    # -- the comparison ---------------------------------------------------------------

    def snapshot(self):
        """Every row of every tracked table, as PostgreSQL has it."""
        self.env.flush_all()
        rows = {}
        for model in TRACKED:
            self.env.cr.execute(
                SQL("SELECT id, to_jsonb(t) FROM %s AS t", SQL.identifier(self.env[model]._table))
            )
            rows[model] = dict(self.env.cr.fetchall())
        return rows

    def diff(self, before, after):
        """(model, id) -> (create | write | unlink, changed columns) of each
        row that differs between the snapshots, and each variant whose
        template changed in a column the variant inherits."""
        changes = {}
        for model in TRACKED:
            old, new = before[model], after[model]
            for record_id in new.keys() - old.keys():
                changes[model, record_id] = ("create", set())
            for record_id in old.keys() - new.keys():
                changes[model, record_id] = ("unlink", set())
            for record_id in new.keys() & old.keys():
                old_row, new_row = old[record_id], new[record_id]
                columns = {
                    column
                    for column in old_row.keys() | new_row.keys()
                    if old_row.get(column) != new_row.get(column)
                } - IGNORED
                if columns:
                    changes[model, record_id] = ("write", columns)

        # product.product _inherits product.template: a template column that
        # changed changed every variant of it, unless the variant has its own
        # field of that name (active, default_code, ...), which hides it.
        own = {
            name
            for name, field in self.env["product.product"]._fields.items()
            if not field.inherited
        }
        for (model, template_id), (kind, columns) in list(changes.items()):
            inherited = columns - own
            if model != "product.template" or kind != "write" or not inherited:
                continue
            for variant_id, variant in after["product.product"].items():
                if variant["product_tmpl_id"] == template_id:
                    key = ("product.product", variant_id)
                    variant_kind, known = changes.get(key, ("write", set()))
                    changes[key] = (variant_kind, known | inherited)
        return changes

    def columns(self, model):
        """The names a write event of `model` may give: the columns of its
        table and of the tables it _inherits."""
        names = set(table_columns(self.env.cr, self.env[model]._table))
        for parent in self.env[model]._inherits:
            names |= set(table_columns(self.env.cr, self.env[parent]._table))
        return names

    def run_flow(self, flow):
        """Run `flow` between two snapshots and check that its events
        account for every difference and name nothing else."""
        # The records a flow starts from stand for data committed earlier
        # (here they were created in this very test transaction).
        self.as_if_created_earlier()
        before = self.snapshot()
        flow()
        after = self.snapshot()
        capture = FlowCapture(before, after, self.diff(before, after), self.new_events())
        self.assertCaptured(capture)
        return capture

    def assertCaptured(self, capture):
        problems = []
        columns_of = {model: self.columns(model) for model in TRACKED}
        for event in capture.events:
            key = (event["model"], event["record_id"], event["event"])
            if event["model"] not in TRACKED:
                problems.append(f"{key}: an event of a model that is not tracked")
            elif event["event"] == "write":
                fields = split_fields(event)
                if not fields:
                    problems.append(f"{key}: a write event without changed_fields")
                unknown = fields - columns_of[event["model"]]
                if unknown:
                    problems.append(f"{key}: changed_fields names non-columns {sorted(unknown)}")

        for (model, record_id), (kind, columns) in sorted(capture.changes.items()):
            events = capture.by_record.get((model, record_id), [])
            kinds = [e["event"] for e in events]
            where = f"{model} {record_id} ({kind} {sorted(columns)})"
            if kind == "create":
                if "create" not in kinds or kinds[-1] == "unlink":
                    problems.append(f"{where}: created, but its events are {kinds}")
            elif kind == "unlink":
                if not kinds or kinds[-1] != "unlink":
                    problems.append(f"{where}: deleted, but its events are {kinds}")
            else:
                if "create" in kinds or "unlink" in kinds:
                    problems.append(f"{where}: changed, but its events are {kinds}")
                written = set().union(*(split_fields(e) for e in events if e["event"] == "write"))
                if not written:
                    problems.append(f"{where}: changed, but no write event")
                elif columns - written:
                    problems.append(
                        f"{where}: write events miss {sorted(columns - written)}"
                        f" (they name {sorted(written)})"
                    )

        for (model, record_id), events in sorted(capture.by_record.items()):
            if (model, record_id) in capture.changes:
                continue
            kinds = [e["event"] for e in events]
            existed = record_id in capture.before.get(model, {})
            exists = record_id in capture.after.get(model, {})
            if not existed and not exists and kinds[0] == "create" and kinds[-1] == "unlink":
                continue  # created and deleted by the flow: nothing to see in the snapshots
            # No flow here changes a row and then changes it back, so an
            # event of a row the snapshots show unchanged is always an extra.
            problems.append(
                f"{model} {record_id}: events "
                f"{[(e['event'], e['changed_fields']) for e in events]}"
                " but the row did not change"
            )
        if problems:
            self.fail("the capture does not match the flow:\n" + "\n".join(problems))

    # -- business helpers -------------------------------------------------------------

    def draft_order(self, lines=None):
        if lines is None:
            lines = [(self.variants[0], 2.0), (self.product, 3.0)]
        return self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_uom_qty": qty})
                    for product, qty in lines
                ],
            }
        )

    def confirmed_order(self):
        order = self.draft_order()
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        return order

    def finish(self, action, method):
        """Answer a wizard an action opened, as a user clicking `method`."""
        if isinstance(action, dict) and action.get("res_model"):
            wizard = Form(self.env[action["res_model"]].with_context(action["context"])).save()
            getattr(wizard, method)()

    # -- the flows --------------------------------------------------------------------

    def test_order_created_with_its_lines(self):
        capture = self.run_flow(self.draft_order)
        order = self.env["sale.order"].search([], order="id desc", limit=1)
        self.assertEqual(len(order.order_line), 2)
        # The amounts and the lines' computed fields are written right after
        # the INSERTs: part of the creation, not writes.
        for record in [order, *order.order_line]:
            self.assertEqual(capture.kinds(record), ["create"], record)

    def test_line_added_to_a_draft_order(self):
        order = self.draft_order([(self.product, 1.0)])
        capture = self.run_flow(
            lambda: self.env["sale.order.line"].create(
                {"order_id": order.id, "product_id": self.variants[1].id, "product_uom_qty": 4}
            )
        )
        self.assertNotEqual(
            capture.row("before", order)["amount_total"],
            capture.row("after", order)["amount_total"],
        )
        self.assertIn("amount_total", capture.written(order))
        self.assertEqual(capture.kinds(order.order_line[-1]), ["create"])

    def test_confirm_an_order(self):
        order = self.draft_order()
        capture = self.run_flow(order.action_confirm)
        self.assertEqual(order.state, "sale")
        self.assertIn("state", capture.written(order))
        for line in order.order_line:
            self.assertIn("state", capture.written(line), line)
        self.assertTrue(order.picking_ids)
        for record in [*order.picking_ids, *order.picking_ids.move_ids]:
            self.assertIn("create", capture.kinds(record), record)

    def test_validate_a_delivery(self):
        order = self.confirmed_order()
        picking = order.picking_ids
        self.assertEqual(len(picking), 1)

        def validate():
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            self.finish(picking.button_validate(), "process")

        capture = self.run_flow(validate)
        self.assertEqual(picking.state, "done")
        self.assertIn("state", capture.written(picking))
        for move in picking.move_ids:
            self.assertIn("state", capture.written(move), move)
        for line in order.order_line:
            self.assertIn("qty_delivered", capture.written(line), line)
        self.assertEqual(order.delivery_status, "full")
        self.assertIn("delivery_status", capture.written(order))

    def test_rename_a_template_with_variants(self):
        self.assertEqual(len(self.variants), 3)
        capture = self.run_flow(lambda: self.template.write({"name": "CMW Polo"}))
        self.assertIn("name", capture.written(self.template))
        for variant in self.variants:
            self.assertEqual(capture.kinds(variant), ["write"], variant)
            self.assertIn("name", capture.written(variant), variant)
        self.assertEqual(capture.kinds(self.product), [])

    def test_delete_a_draft_order(self):
        order = self.draft_order()
        lines = order.order_line
        capture = self.run_flow(order.unlink)
        # The lines go by the database's ON DELETE CASCADE of order_id.
        for record in [order, *lines]:
            self.assertEqual(capture.kinds(record), ["unlink"], record)

    def test_move_a_company_with_contacts(self):
        capture = self.run_flow(
            lambda: self.customer.write({"street": "9 New Avenue", "city": "Newtown"})
        )
        self.assertTrue({"street", "city"} <= capture.written(self.customer))
        for contact in self.contacts:
            self.assertEqual(contact.city, "Newtown")
            self.assertTrue({"street", "city"} <= capture.written(contact), contact)

    def test_cancel_a_confirmed_order(self):
        order = self.confirmed_order()
        capture = self.run_flow(lambda: self.finish(order.action_cancel(), "action_cancel"))
        self.assertEqual(order.state, "cancel")
        self.assertIn("state", capture.written(order))
        for line in order.order_line:
            self.assertIn("state", capture.written(line), line)
        for picking in order.picking_ids:
            self.assertEqual(picking.state, "cancel")
            self.assertIn("state", capture.written(picking), picking)

    def test_raw_sql_update(self):
        order = self.draft_order()
        capture = self.run_flow(
            lambda: self.env.cr.execute(
                "UPDATE sale_order SET note = %s WHERE id = %s",
                ("<p>Gate code 4711</p>", order.id),
            )
        )
        self.assertEqual(
            [(e["model"], e["record_id"], e["event"], e["changed_fields"]) for e in capture.events],
            [("sale.order", order.id, "write", "note")],
        )

    def test_a_rolled_back_flow_leaves_no_event(self):
        def flow():
            with self.assertRaises(UserError), self.env.cr.savepoint():
                order = self.draft_order()
                order.action_confirm()
                self.customer.write({"city": "Nowhere"})
                self.env.flush_all()
                self.assertTrue(self.new_events(), "the flow did reach the database")
                raise UserError("abort")

        capture = self.run_flow(flow)
        self.assertEqual(capture.changes, {})
        self.assertEqual(capture.events, [])
