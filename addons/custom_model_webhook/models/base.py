# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Capture of create / write / unlink on the tracked models.

Every ORM call on a tracked model adds its events with ONE multi-row INSERT
(built by the server package, so both halves write the same rows), in the
same transaction as the change: the event exists if and only if the change
commits. The INSERT runs right after the ORM call succeeded, so a capture
failure raises at the call site and fails the change instead of dropping the
event. The transaction id column is filled by its database default.
"""

from odoo import api, models

from odoo_webhook_server.storage.capture import (
    NOTIFY_CHANNEL,
    CapturedChange,
    insert_events_sql,
)

# Key of the per-transaction flag in cr.precommit.data (see _webhook_notify).
_NOTIFY_KEY = "custom_model_webhook.notify"


class Base(models.AbstractModel):
    _inherit = "base"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records and records._webhook_is_tracked():
            records._webhook_capture("create", records.ids)
        return records

    def write(self, vals):
        result = super().write(vals)
        if self and vals and self._webhook_is_tracked():
            self._webhook_capture("write", self.ids, changed_fields=tuple(sorted(vals)))
        return result

    def unlink(self):
        # The ids are gone after super(); read them first, capture after it
        # succeeded (a refused unlink leaves no event).
        tracked = bool(self) and self._webhook_is_tracked()
        ids = self.ids if tracked else []
        result = super().unlink()
        if ids:
            self._webhook_capture("unlink", ids)
        return result

    def _webhook_is_tracked(self):
        """Whether this model's changes are captured (a cached lookup)."""
        return self._name in self.env["webhook.tracked.model"]._get_tracked_model_names()

    def _webhook_capture(self, event, ids, changed_fields=()):
        """Insert the events of one ORM call in one statement.

        SQL rather than the ORM: it works for every user (plain users may
        not create events), costs one statement, and never recurses into
        this capture.
        """
        changes = [
            CapturedChange(self._name, record_id, event, changed_fields)
            for record_id in dict.fromkeys(ids)
        ]
        query, params = insert_events_sql(changes, user_id=self.env.uid, now=self.env.cr.now())
        self.env.cr.execute(query, params)
        self._webhook_notify()

    def _webhook_notify(self):
        """Announce the events to long-polling readers, once per transaction.

        NOTIFY runs in the transaction itself (as a precommit hook):
        PostgreSQL delivers it only if the transaction commits, never on
        rollback, and folds identical notifications of one transaction into
        one. A flush (e.g. at a savepoint) runs the hooks and clears the
        flag, so later captures register the hook again; harmless, as the
        notifications of one transaction are folded.
        """
        cr = self.env.cr
        if _NOTIFY_KEY in cr.precommit.data:
            return
        cr.precommit.data[_NOTIFY_KEY] = True

        @cr.precommit.add
        def notify():
            cr.execute(f"NOTIFY {NOTIFY_CHANNEL}")
