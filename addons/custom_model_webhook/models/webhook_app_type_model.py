# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class WebhookAppTypeModel(models.Model):
    """One model that devices of an app type receive, by technical name (it
    may be installed later, like the tracked models)."""

    _name = "webhook.app.type.model"
    _description = "Webhook App Type Model"
    _order = "app_type_id, model"
    _rec_name = "model"

    app_type_id = fields.Many2one(
        "webhook.app.type", string="App Type", required=True, ondelete="cascade"
    )
    model = fields.Char(required=True, help="Technical name, e.g. sale.order.")
    model_id = fields.Many2one(
        "ir.model",
        string="Installed Model",
        compute="_compute_model_id",
        inverse="_inverse_model_id",
        domain=[("transient", "=", False)],
        help="Pick an installed model to fill in its technical name.",
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
    def _compute_model_id(self):
        models_by_name = {
            ir_model.model: ir_model
            for ir_model in self.env["ir.model"]
            .sudo()
            .search([("model", "in", [name for name in self.mapped("model") if name])])
        }
        for line in self:
            line.model_id = models_by_name.get(line.model, False)

    @api.depends("model")
    def _compute_tracked(self):
        tracked = self.env["webhook.tracked.model"]._get_tracked_model_names()
        for line in self:
            line.tracked = line.model in tracked

    def _inverse_model_id(self):
        for record in self.filtered("model_id"):
            record.model = record.model_id.model

    @api.onchange("model_id")
    def _onchange_model_id(self):
        if self.model_id:
            self.model = self.model_id.model
