# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Who made the change: the only part of the capture that lives in the ORM.

The capture itself is in the database (sql/capture.sql of the core package
odoo_webhook_core, installed by webhook.tracked.model): triggers on the
tracked tables see every committed row, whatever wrote it. What PostgreSQL
cannot know is the Odoo user; every create / write / unlink, of any model
(a change of an untracked model may recompute a tracked one), names it in a
transaction-local setting that the triggers read. One statement per
transaction and user: the user last named is remembered in the cursor's
precommit data, which Odoo clears whenever the setting may have been undone
or reset (commit, rollback, a rolled-back savepoint) and at each flush.
"""

from odoo import api, models

from odoo_webhook_core.capture import set_author_sql

# Key of the user last named, in cr.precommit.data.
_AUTHOR_KEY = "custom_model_webhook.author"


class Base(models.AbstractModel):
    _inherit = "base"

    @api.model_create_multi
    def create(self, vals_list):
        self._webhook_name_author()
        return super().create(vals_list)

    def write(self, vals):
        if self:
            self._webhook_name_author()
        return super().write(vals)

    def unlink(self):
        if self:
            self._webhook_name_author()
        return super().unlink()

    def _webhook_name_author(self):
        """Name this environment's user as the author of the transaction's
        next changes, unless already named."""
        cr = self.env.cr
        if cr.precommit.data.get(_AUTHOR_KEY) != self.env.uid:
            cr.execute(*set_author_sql(self.env.uid))
            cr.precommit.data[_AUTHOR_KEY] = self.env.uid
