# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class WebhookAppTypeModel(models.Model):
    """One model that devices of an app type receive, by technical name (it
    may be installed later, like the tracked models)."""

    _name = "webhook.app.type.model"
    _inherit = "webhook.model.name.mixin"
    _description = "Webhook App Type Model"
    _order = "app_type_id, model"

    app_type_id = fields.Many2one(
        "webhook.app.type", string="App Type", required=True, ondelete="cascade"
    )
    tracked = fields.Boolean(
        compute="_compute_tracked",
        help="Whether the model's changes are captured at all: a device only "
        "receives events of tracked models.",
    )

    _sql_constraints = [
        (
            "app_type_model_unique",
            "unique(app_type_id, model)",
            "This app type already receives this model.",
        ),
    ]

    @api.depends("model")
    def _compute_tracked(self):
        tracked = self.env["webhook.tracked.model"]._get_tracked_model_names()
        for line in self:
            line.tracked = line.model in tracked
