# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo_webhook_core.schema import extras_sql

from ..schema_fields import SchemaBigInteger, SchemaInteger, auto_init_shared_schema

# Moves devices to the position just after an event (0 = the beginning),
# acknowledged and issued alike, as the server's reset does
# (the server's storage/sync_state.py, reset_state). The position is
# the pair (txid, event id); the cursor columns come from
# extras_user_sync_state.sql.
_MOVE_TO_EVENT = """
    UPDATE user_sync_state s
       SET ack_txid = p.txid, last_event_id = p.event_id,
           issued_txid = p.txid, issued_event_id = p.event_id,
           ack_position = NULL, issued_position = NULL,
           is_active = is_active OR %(reactivate)s, write_uid = %(uid)s, write_date = %(now)s
      FROM (SELECT COALESCE((SELECT txid FROM update_webhook WHERE id = %(event_id)s), 0)
                   AS txid,
                   %(event_id)s AS event_id) p
     WHERE s.id = ANY(%(ids)s)
"""


class UserSyncState(models.Model):
    """Where one device of one user is in the event stream.

    Written by the sync server on every pull (plain SQL on this table); Odoo
    shows the states and lets a manager reset or deactivate a device. A
    deactivated device no longer holds back archiving; its next pull
    reactivates it.
    """

    _name = "user.sync.state"
    _description = "User Sync State (one device)"
    _order = "last_sync_time desc, id desc"
    _rec_name = "device_id"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", string="User")
    device_id = fields.Char(string="Device", required=True)
    app_type = fields.Char(required=True, help="Code of the app type the device syncs.")
    models_filter = fields.Char(
        help="Comma-separated models the device narrowed its app type to (empty: all of them)."
    )
    last_event_id = fields.Integer(
        string="Last Event ID",
        help="Every event up to this one is acknowledged by the device (lower than its "
        "last one while an older transaction was running as it synced). Writing 0 makes "
        "it start over.",
    )
    last_sync_time = fields.Datetime(string="Last Sync")
    sync_count = fields.Integer()
    is_active = fields.Boolean(string="Active", default=True)

    # The cursor: acknowledged position = (ack_txid, last_event_id), position
    # handed out by the last pull = (issued_txid, issued_event_id). Written by
    # the server only; reset here with _move_to_event().
    ack_txid = SchemaBigInteger(string="Acknowledged Transaction", readonly=True, copy=False)
    issued_txid = SchemaBigInteger(string="Issued Transaction", readonly=True, copy=False)
    issued_event_id = SchemaInteger(string="Issued Event ID", readonly=True, copy=False)

    _sql_constraints = [
        (
            "user_device_unique",
            "unique(user_id, device_id)",
            "This user already has a sync state for this device.",
        ),
    ]

    def _auto_init(self):
        return auto_init_shared_schema(self, super()._auto_init)

    def init(self):
        # The cursor columns (txid halves of the positions). Idempotent.
        self.env.cr.execute(extras_sql(self._table))

    def write(self, vals):
        result = super().write(vals)
        if "last_event_id" in vals:
            # The guide's troubleshooting tip, state.write({'last_event_id': 0}),
            # must really restart the device: move the whole cursor with it.
            self._move_to_event(vals["last_event_id"] or 0)
        return result

    def action_reset(self):
        """Start the devices over from the first event (manager button); like
        the server's reset, this reactivates them."""
        self._move_to_event(0, reactivate=True)
        return True

    def action_deactivate(self):
        """Stop the devices from holding back archiving (manager button)."""
        self.write({"is_active": False})
        return True

    def _move_to_event(self, event_id, reactivate=False):
        if not self:
            return
        if event_id:
            self.env.cr.execute("SELECT 1 FROM update_webhook WHERE id = %s", (event_id,))
            if not self.env.cr.rowcount:
                raise UserError(
                    _("Event %(event_id)s does not exist (any more).", event_id=event_id)
                )
        self.check_access("write")
        self.flush_recordset()
        self.env.cr.execute(
            _MOVE_TO_EVENT,
            {
                "event_id": event_id,
                "ids": self.ids,
                "reactivate": reactivate,
                "uid": self.env.uid,
                "now": self.env.cr.now(),
            },
        )
        self.invalidate_recordset(
            [
                "ack_txid",
                "last_event_id",
                "issued_txid",
                "issued_event_id",
                "is_active",
                "write_uid",
                "write_date",
            ]
        )
