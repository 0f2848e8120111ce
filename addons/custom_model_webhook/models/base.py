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

import contextlib
import contextvars

from odoo import api, models

from odoo_webhook_server.storage.capture import (
    NOTIFY_CHANNEL,
    CapturedChange,
    insert_events_sql,
)

# Key of the per-transaction flag in cr.precommit.data (see _webhook_notify).
_NOTIFY_KEY = "custom_model_webhook.notify"

# The create() calls of tracked models in progress in this thread, innermost
# last, as (cursor, model name, writes held back). See Base.create().
_CREATING = contextvars.ContextVar("custom_model_webhook_creating", default=())


class Base(models.AbstractModel):
    _inherit = "base"

    @api.model_create_multi
    def create(self, vals_list):
        if not self._webhook_is_tracked():
            return super().create(vals_list)
        # create() writes the new records itself once they are inserted
        # (inverse fields; computed values set while validating, e.g. on
        # account.move). Their events are held back until the new ids are
        # known: those of the new records are part of their creation, the
        # others follow the "create" events, so a device never sees a write
        # of a record before its creation.
        with self._webhook_hold_writes() as held:
            records = super().create(vals_list)
        changes = [CapturedChange(self._name, record_id, "create") for record_id in records.ids]
        created = set(records.ids)
        later = [change for change in held if change.record_id not in created]
        outer = self._webhook_held_writes()
        if outer is not None:
            outer.extend(later)  # they may be writes of the outer call's new records
        else:
            changes += later
        self._webhook_insert(changes)
        return records

    def write(self, vals):
        result = super().write(vals)
        if self and vals and self._webhook_is_tracked():
            fields = tuple(sorted(vals))
            changes = [
                CapturedChange(self._name, record_id, "write", fields)
                for record_id in dict.fromkeys(self.ids)
            ]
            held = self._webhook_held_writes()
            if held is not None:
                held.extend(changes)
            else:
                self._webhook_insert(changes)
        return result

    def unlink(self):
        # The ids are gone after super(); read them first, capture after it
        # succeeded (a refused unlink leaves no event).
        tracked = bool(self) and self._webhook_is_tracked()
        ids = list(dict.fromkeys(self.ids)) if tracked else []
        result = super().unlink()
        if ids:
            self._webhook_insert(
                [CapturedChange(self._name, record_id, "unlink") for record_id in ids]
            )
        return result

    @contextlib.contextmanager
    def _webhook_hold_writes(self):
        held = []
        token = _CREATING.set((*_CREATING.get(), (self.env.cr, self._name, held)))
        try:
            yield held
        finally:
            _CREATING.reset(token)

    def _webhook_held_writes(self):
        """The list collecting this model's write events during a create()
        of this model in progress on this cursor, or None."""
        for cr, model, held in reversed(_CREATING.get()):
            if cr is self.env.cr and model == self._name:
                return held
        return None

    def _webhook_is_tracked(self):
        """Whether this model's changes are captured (a cached lookup)."""
        return self._name in self.env["webhook.tracked.model"]._get_tracked_model_names()

    def _webhook_insert(self, changes):
        """Insert the events of one ORM call in one statement.

        SQL rather than the ORM: it works for every user (plain users may
        not create events), costs one statement, and never recurses into
        this capture.
        """
        if not changes:
            return
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
