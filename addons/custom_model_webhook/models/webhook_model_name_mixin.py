# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class WebhookModelNameMixin(models.AbstractModel):
    """A model named by its technical name (it may be installed later), with
    a picker among the installed models that fills the name in."""

    _name = "webhook.model.name.mixin"
    _description = "Webhook Model Name Mixin"
    _rec_name = "model"

    model = fields.Char(required=True, help="Technical name, e.g. sale.order.")
    model_id = fields.Many2one(
        "ir.model",
        string="Installed Model",
        compute="_compute_model_id",
        inverse="_inverse_model_id",
        search="_search_model_id",
        domain=[("transient", "=", False)],
        help="Pick an installed model to fill in its technical name.",
    )
    installed = fields.Boolean(compute="_compute_model_id")

    @api.depends("model")
    def _compute_model_id(self):
        models_by_name = {
            ir_model.model: ir_model
            for ir_model in self.env["ir.model"]
            .sudo()
            .search([("model", "in", [name for name in self.mapped("model") if name])])
        }
        for record in self:
            record.model_id = models_by_name.get(record.model, False)
            record.installed = record.model in self.env

    def _search_model_id(self, operator, value):
        names = self.env["ir.model"].sudo().search([("id", operator, value)]).mapped("model")
        return [("model", "in", names)]

    def _inverse_model_id(self):
        for record in self.filtered("model_id"):
            record.model = record.model_id.model

    @api.onchange("model_id")
    def _onchange_model_id(self):
        if self.model_id:
            self.model = self.model_id.model
