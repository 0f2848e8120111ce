# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from unittest.mock import patch

import psycopg2

from odoo.exceptions import UserError
from odoo.models import BaseModel
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestCapture(WebhookCase):
    def test_create_captures_each_record_with_its_author(self):
        user = self.new_user("cmw_partner_manager", "base.group_user,base.group_partner_manager")
        self.mark()  # creating the user created its partner
        partners = (
            self.env["res.partner"]
            .with_user(user)
            .create([{"name": "Café Bruxelles"}, {"name": "Brasserie Namur"}])
        )
        events = self.new_events("res.partner")
        self.assertEqual(
            self.summary(events),
            [("res.partner", partner.id, "create") for partner in partners],
        )
        for event in events:
            self.assertEqual(event["user_id"], user.id)
            self.assertFalse(event["changed_fields"])
            self.assertFalse(event["is_archived"])
            self.assertEqual(event["min_users_synced"], 0)
            self.assertTrue(event["txid"], "the column default fills the transaction id")
            self.assertEqual(event["timestamp"], self.env.cr.now())

    def test_write_captures_the_changed_fields(self):
        partner = self.env["res.partner"].create({"name": "Café Bruxelles"})
        self.as_if_created_earlier()
        partner.write({"phone": "+32 2 555 01 01", "comment": "Terrace"})
        events = self.new_events("res.partner")
        self.assertEqual(self.summary(events), [("res.partner", partner.id, "write")])
        named = events[0]["changed_fields"].split(",")
        self.assertEqual(named, sorted(named))
        # with more modules installed, stored fields computed from these too
        # (phone_sanitized)
        self.assertLessEqual({"comment", "phone"}, set(named))
        self.assertTrue(all(partner._fields[name].store for name in named), named)
        self.assertEqual(events[0]["user_id"], self.env.uid)

    def test_a_write_in_the_creating_transaction_is_part_of_the_creation(self):
        # The device is told "create" and reads the record as committed.
        partner = self.env["res.partner"].create({"name": "Café Bruxelles"})
        partner.write({"phone": "+32 2 555 01 01"})
        self.assertEqual(
            self.summary(self.new_events("res.partner")), [("res.partner", partner.id, "create")]
        )

    def test_a_write_that_changes_nothing_makes_no_event(self):
        partner = self.env["res.partner"].create({"name": "Same", "comment": "Same"})
        self.as_if_created_earlier()
        partner.write({"name": "Same", "comment": "Same"})
        self.env.cr.execute("UPDATE res_partner SET write_date = now() WHERE id = %s", [partner.id])
        self.assertEqual(self.new_events(), [])

    def test_unlink_captures_the_deleted_ids(self):
        partners = self.env["res.partner"].create([{"name": "A"}, {"name": "B"}])
        ids = partners.ids
        partners.unlink()
        events = [e for e in self.new_events("res.partner") if e["event"] == "unlink"]
        self.assertEqual(sorted(e["record_id"] for e in events), sorted(ids))

    def test_a_multi_record_write_is_one_insert_of_consecutive_events(self):
        partners = self.env["res.partner"].create([{"name": f"P{i}"} for i in range(5)])
        self.as_if_created_earlier()
        partners.write({"comment": "Same for all"})
        writes = self.new_events("res.partner")
        self.assertEqual(sorted(e["record_id"] for e in writes), sorted(partners.ids))
        ids = [e["id"] for e in writes]
        self.assertEqual(ids, list(range(ids[0], ids[0] + 5)), "rows of one statement")
        self.assertEqual(len({e["txid"] for e in writes}), 1)

    def test_a_multi_record_create_and_unlink(self):
        partners = self.env["res.partner"].create([{"name": f"P{i}"} for i in range(4)])
        ids = partners.ids
        partners.unlink()
        self.assertEqual(
            self.summary(self.new_events("res.partner")),
            [("res.partner", i, "create") for i in ids]
            + [("res.partner", i, "unlink") for i in ids],
        )

    def test_the_orm_sends_nothing_but_the_author_once_per_transaction(self):
        partners = self.env["res.partner"].create([{"name": f"P{i}"} for i in range(3)])
        self.as_if_created_earlier()
        self.env.cr.flush()  # a new "transaction" for the ORM hook (precommit data cleared)
        with self.statements() as sent:
            partners.write({"comment": "x"})
            partners[0].write({"comment": "y"})
            self.env.flush_all()
        ours = [s for s in sent if "webhook" in s or "set_config" in s]
        self.assertEqual(ours, ["SELECT set_config(%s, %s, true)"])
        # the ORM flushed both writes together: one change per record
        self.assertEqual(len(self.new_events("res.partner")), 3)

    def test_a_rolled_back_change_leaves_no_event(self):
        partner = self.env["res.partner"].create({"name": "Kept"})
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.env["res.partner"].create({"name": "Rolled back"})
            partner.write({"comment": "rolled back too"})
            raise UserError("abort")
        self.assertEqual(self.summary(self.new_events()), [("res.partner", partner.id, "create")])

    @mute_logger("odoo.sql_db")
    def test_a_change_the_database_refuses_leaves_no_event(self):
        partner = self.env["res.partner"].create({"name": "Kept"})
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            # res.partner's check_name: a contact needs a name.
            partner.write({"name": False, "type": "contact"})
            self.env.flush_all()
        self.assertEqual(self.summary(self.new_events()), [("res.partner", partner.id, "create")])

    @mute_logger("odoo.sql_db")
    def test_a_capture_failure_fails_the_change(self):
        before = self.env["res.partner"].search_count([])
        with self.assertRaises(psycopg2.errors.CheckViolation), self.env.cr.savepoint():
            # The event table refuses the event: the change must fail with it.
            self.env.cr.execute(
                "ALTER TABLE update_webhook ADD CONSTRAINT cmw_refuse CHECK (record_id < 0)"
            )
            self.env["res.partner"].create({"name": "Never without its event"})
        self.assertEqual(self.env["res.partner"].search_count([]), before)
        self.assertEqual(self.new_events(), [])

    def test_untracked_models_produce_nothing(self):
        category = self.env["res.partner.category"].create({"name": "VIP"})
        category.write({"name": "Very VIP"})
        category.unlink()
        self.assertEqual(self.new_events(), [])

    def test_the_addon_own_models_produce_nothing(self):
        app_type = self.env["webhook.app.type"].create({"code": "cmw_test_app", "name": "T"})
        app_type.write({"name": "T2"})
        self.env["user.sync.state"].create(
            {"user_id": self.env.uid, "device_id": "cmw-dev", "app_type": "cmw_test_app"}
        )
        self.env["update.webhook"].create(
            {"model": "res.partner", "record_id": 1, "event": "write", "timestamp": "2026-01-01"}
        )
        events = self.new_events()
        self.assertEqual(len(events), 1, "only the event created by hand")
        self.assertEqual(events[0]["model"], "res.partner")

    def test_an_empty_write_or_empty_recordset_produces_nothing(self):
        partner = self.env["res.partner"].create({"name": "Quiet"})
        partner.write({})
        self.env["res.partner"].browse().write({"comment": "nobody"})
        self.env["res.partner"].browse().unlink()
        self.assertEqual(len(self.new_events()), 1)

    def test_writes_made_by_create_itself_never_precede_the_create(self):
        # Odoo's create() writes new records itself (inverse fields, values
        # set while validating); nested creates of the same model too.
        company = self.env["res.partner"].create(
            {
                "name": "Company",
                "is_company": True,
                "street": "Rue Neuve 1",
                "child_ids": [(0, 0, {"name": "Contact", "type": "contact"})],
            }
        )
        events = self.new_events("res.partner")
        first_seen = {}
        for event in events:
            first_seen.setdefault(event["record_id"], event["event"])
        self.assertEqual(first_seen[company.id], "create", events)
        self.assertEqual(first_seen[company.child_ids.id], "create", events)

    def test_a_write_of_another_record_during_a_create_is_captured(self):
        other = self.env["res.partner"].create({"name": "Other"})
        self.as_if_created_earlier()
        insert = BaseModel._create

        def insert_then_write(records, data_list):
            created = insert(records, data_list)
            if records._name == "res.partner":
                other.write({"comment": "touched during the create"})
            return created

        with patch.object(BaseModel, "_create", insert_then_write):
            new = self.env["res.partner"].create({"name": "New"})
        self.assertEqual(
            sorted(self.summary(self.new_events())),
            sorted([("res.partner", new.id, "create"), ("res.partner", other.id, "write")]),
        )
