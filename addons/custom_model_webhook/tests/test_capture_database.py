# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Capture of what the database commits, not of what the ORM was asked: stored
computed fields, cascades, _inherits parents and plain SQL, with base models
only (res.partner, res.partner.bank, res.partner.category, res.users)."""

from odoo.tests import tagged

from odoo_webhook_core.capture import installed_capture_triggers
from odoo_webhook_core.schema import extras_sql

from .common import WebhookCase


def fields_of(event):
    return set((event["changed_fields"] or "").split(",")) - {""}


@tagged("post_install", "-at_install")
class TestCaptureDatabase(WebhookCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.set_tracked("res.partner.bank", True)
        cls.set_tracked("res.users", False)
        cls.user = cls.env["res.users"].create(
            {
                "name": "Field Rep",
                "login": "cmw_field_rep",
                "groups_id": [
                    (6, 0, [cls.env.ref("base.group_user").id]),
                    (4, cls.env.ref("base.group_partner_manager").id),
                ],
            }
        )
        cls.company = cls.env["res.partner"].create(
            {
                "name": "Brasserie",
                "is_company": True,
                "street": "Rue Neuve 1",
                "child_ids": [
                    (0, 0, {"name": "Anna", "type": "contact"}),
                    (0, 0, {"name": "Bert", "type": "contact"}),
                ],
            }
        )
        cls.contacts = cls.company.child_ids

    def setUp(self):
        super().setUp()
        self.as_if_created_earlier()

    def by_record(self, model):
        events = {}
        for event in self.new_events(model):
            events.setdefault(event["record_id"], []).append(event)
        return events

    def test_stored_computed_fields_of_other_records_are_captured(self):
        # Renaming the company recomputes its contacts' complete_name
        # ("Brasserie, Anna"): a flush, not a write() of the contacts.
        self.company.with_user(self.user).write({"name": "Brasserie du Parc"})
        events = self.by_record("res.partner")
        for contact in self.contacts:
            self.assertIn(contact.id, events, "a recomputed contact has its event")
            (event,) = events[contact.id]
            self.assertEqual(event["event"], "write")
            self.assertIn("complete_name", fields_of(event))
            self.assertEqual(event["user_id"], self.user.id, "who made the change")
        self.assertIn("name", fields_of(events[self.company.id][0]))
        self.assertEqual(events[self.company.id][0]["user_id"], self.user.id)

    def test_every_changed_column_is_named(self):
        self.company.write({"street": "Rue Haute 5", "city": "Namur"})
        events = self.by_record("res.partner")
        self.assertLessEqual({"street", "city"}, fields_of(events[self.company.id][0]))
        for contact in self.contacts:  # Odoo copies the address to the contacts
            self.assertLessEqual({"street", "city"}, fields_of(events[contact.id][0]))

    def test_on_delete_cascade_is_captured(self):
        banks = self.env["res.partner.bank"].create(
            [
                {"acc_number": "BE71096123456769", "partner_id": self.contacts[0].id},
                {"acc_number": "BE68539007547034", "partner_id": self.contacts[0].id},
            ]
        )
        self.as_if_created_earlier()
        self.contacts[0].with_user(self.user).unlink()
        events = self.new_events("res.partner.bank")
        self.assertEqual(
            sorted(self.summary(events)),
            sorted(("res.partner.bank", bank_id, "unlink") for bank_id in banks.ids),
            "deleted by the database (ON DELETE CASCADE), not by the ORM",
        )
        self.assertEqual({e["user_id"] for e in events}, {self.user.id})

    def test_on_delete_set_null_is_captured(self):
        # res.partner.parent_id is ON DELETE SET NULL: the contacts lose their company.
        self.env.cr.execute("DELETE FROM res_partner WHERE id = %s", [self.company.id])
        events = self.by_record("res.partner")
        self.assertEqual([e["event"] for e in events[self.company.id]], ["unlink"])
        for contact in self.contacts:
            # parent_id, and commercial_partner_id, also a reference to the company
            named = set().union(*(fields_of(e) for e in events[contact.id]))
            self.assertIn("parent_id", named)
            self.assertEqual({e["event"] for e in events[contact.id]}, {"write"})

    def test_plain_sql_is_captured(self):
        self.set_tracked("res.partner.category", True)
        self.mark()
        self.env.cr.execute(
            """INSERT INTO res_partner_category (name, active)
               VALUES ('{"en_US": "SQL"}', true) RETURNING id"""
        )
        (category_id,) = self.env.cr.fetchone()
        self.env.cr.execute(
            "UPDATE res_partner SET comment = 'by SQL' WHERE id IN %s", [tuple(self.contacts.ids)]
        )
        self.env.cr.execute("DELETE FROM res_partner_category WHERE id = %s", [category_id])
        self.assertEqual(
            [
                (e["model"], e["record_id"], e["event"], e["changed_fields"])
                for e in self.new_events()
            ],
            [("res.partner.category", category_id, "create", None)]
            + [("res.partner", i, "write", "comment") for i in sorted(self.contacts.ids)]
            + [("res.partner.category", category_id, "unlink", None)],
        )

    def test_a_change_of_an_inherited_parent_is_a_change_of_the_child(self):
        # res.users _inherits res.partner: the user's name, email... are the
        # partner's columns.
        self.set_tracked("res.users", True)
        self.mark()
        self.user.write({"name": "Field Representative", "email": "rep@example.com"})
        self.user.partner_id.write({"phone": "+32 81 00 00 00"})
        self.user.write({"login": "cmw_field_rep2"})  # a column of res_users itself
        events = self.new_events("res.users")
        self.assertEqual({e["record_id"] for e in events}, {self.user.id})
        self.assertTrue(all(e["event"] == "write" for e in events), events)
        named = set().union(*(fields_of(e) for e in events))
        self.assertLessEqual({"name", "email", "phone", "login"}, named)
        # res.users has an `active` of its own: the partner's tells nothing about the user
        self.mark()
        self.env.cr.execute(
            "UPDATE res_partner SET active = NOT active WHERE id = %s", [self.user.partner_id.id]
        )
        self.assertEqual(self.new_events("res.users"), [])

    def test_a_deleted_parent_deletes_the_child_and_its_event_says_so(self):
        self.set_tracked("res.users", True)
        self.mark()
        partner_id = self.user.partner_id.id
        self.env.cr.execute("DELETE FROM res_users WHERE id = %s", [self.user.id])
        self.env.cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])
        self.assertEqual(
            self.summary(self.new_events()),
            [("res.users", self.user.id, "unlink"), ("res.partner", partner_id, "unlink")],
        )

    def test_capture_is_installed_exactly_on_the_tracked_tables(self):
        def tables():
            return {
                (t.table, t.operation, t.args[0]) for t in installed_capture_triggers(self.env.cr)
            }

        tracked = self.tracked.search([("model", "=", "res.partner.category")])
        self.assertNotIn(("res_partner_category", "UPDATE", "res.partner.category"), tables())
        self.set_tracked("res.partner.category", True)
        tracked = self.tracked.search([("model", "=", "res.partner.category")])
        self.assertLessEqual(
            {
                ("res_partner_category", op, "res.partner.category")
                for op in ("INSERT", "UPDATE", "DELETE")
            },
            tables(),
        )
        self.assertTrue(tracked.capture_installed)
        self.assertEqual(tracked.table, "res_partner_category")

        self.set_tracked("res.users", True)
        users = self.tracked.search([("model", "=", "res.users")])
        self.assertIn(("res_partner", "UPDATE", "res.users"), tables())
        self.assertEqual(users.capture_tables, "res_partner, res_users")

        tracked.active = False
        self.assertNotIn(("res_partner_category", "UPDATE", "res.partner.category"), tables())
        self.assertFalse(tracked.with_context(active_test=False).capture_installed)
        users.unlink()
        self.assertNotIn(("res_partner", "UPDATE", "res.users"), tables())

        not_installed = self.tracked.create({"model": "x_cmw.not_installed_yet"})
        self.assertFalse(not_installed.capture_installed)
        self.assertFalse(not_installed.table)

    def test_installing_is_idempotent_and_repairs(self):
        model = self.env["webhook.tracked.model"]
        with self.statements() as sent:
            model._sync_capture()
        self.assertFalse([s for s in sent if "TRIGGER" in s], "nothing to do twice")
        self.env.cr.execute("DROP TRIGGER custom_model_webhook_capture_update ON res_partner")
        model._register_hook()  # what every registry load runs (e.g. after a module install)
        self.assertIn(
            ("res_partner", "UPDATE"),
            {(t.table, t.operation) for t in installed_capture_triggers(self.env.cr)},
        )
        self.contacts[0].write({"comment": "captured again"})
        self.assertEqual(len(self.new_events("res.partner")), 1)


@tagged("post_install", "-at_install")
class TestSchemaChangesAfterEvents(WebhookCase):
    def test_update_webhook_can_be_altered_after_events_in_one_transaction(self):
        """Installing modules writes events (their notification is deferred to
        the commit), then alters tables, in one transaction: PostgreSQL would
        refuse while the notification is pending; the schema settles it."""
        self.env["res.partner"].create({"name": "Before the DDL"})
        self.env.flush_all()
        self.env.cr.execute(extras_sql("update_webhook"))  # ALTER TABLE update_webhook ...
        self.env["res.partner"].create({"name": "After the DDL"})
        self.env.flush_all()
        self.env.cr.execute(extras_sql("update_webhook"))
