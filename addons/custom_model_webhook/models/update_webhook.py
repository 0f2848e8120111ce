# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models

from odoo_webhook_core.capture import capture_functions_sql
from odoo_webhook_core.schema import extras_sql, settle_update_webhook_sql

from ..schema_fields import SchemaBigInteger, auto_init_shared_schema


class UpdateWebhook(models.Model):
    """One captured change of a tracked record: the event stream that the
    sync server serves to devices.

    Rows are written by the capture triggers on the tracked tables (one
    INSERT per SQL statement, see webhook.tracked.model) and read by the
    server straight from the table; the columns must match the server's
    sql/tables.sql in the core package (tests/test_schema.py).
    """

    _name = "update.webhook"
    _description = "Webhook Update (captured change)"
    _order = "id desc"

    model = fields.Char(required=True, help="Technical name of the changed model.")
    record_id = fields.Integer(string="Record ID", required=True)
    event = fields.Selection(
        [("create", "Create"), ("write", "Write"), ("unlink", "Unlink")],
        required=True,
    )
    timestamp = fields.Datetime(required=True, index=True)
    user_id = fields.Many2one("res.users", string="Author", ondelete="set null")
    changed_fields = fields.Text(help="Comma-separated names of the written fields.")
    is_archived = fields.Boolean(string="Archived", index=True, default=False)
    archive_date = fields.Datetime()
    min_users_synced = fields.Integer(
        string="Devices Synced",
        default=0,
        help="How many active devices had acknowledged the event when it was archived.",
    )

    # The writing transaction's id, filled by the column default: the server
    # serves events in (txid, id) order, only once their transaction is final.
    txid = SchemaBigInteger(string="Transaction ID", readonly=True, copy=False)

    def _auto_init(self):
        # The ORM may alter this table in a transaction whose data already
        # wrote events: PostgreSQL refuses while their notification is pending.
        self.env.cr.execute(settle_update_webhook_sql())
        return auto_init_shared_schema(self, super()._auto_init)

    def init(self):
        # What the ORM cannot express: the writing transaction's id (a column
        # default), the cursor indexes the server reads by, and the functions
        # of the capture triggers that write into this table. Idempotent.
        self.env.cr.execute(extras_sql(self._table))
        self.env.cr.execute(capture_functions_sql())

    @api.depends("model", "record_id", "event")
    def _compute_display_name(self):
        for event in self:
            event.display_name = f"{event.event} {event.model},{event.record_id}"
