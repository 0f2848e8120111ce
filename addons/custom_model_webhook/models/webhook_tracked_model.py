# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools.sql import table_columns

# The addon's own models are never captured: their changes are not business
# data, and capturing update.webhook would recurse.
OWN_MODELS = frozenset(
    {
        "update.webhook",
        "user.sync.state",
        "webhook.tracked.model",
        "webhook.app.type",
        "webhook.app.type.model",
        "webhook.archiver",
    }
)

# Tracked by name: a model that is not installed yet (sale.order before sale)
# is captured as soon as its module is installed, with no further action.
DEFAULT_TRACKED_MODELS = (
    "sale.order",
    "res.partner",
    "product.template",
    "product.category",
    "stock.picking",
    "account.move",
    "purchase.order",
    "hr.expense",
)

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


class WebhookTrackedModel(models.Model):
    """A model whose create / write / unlink are captured.

    The set of tracked names is cached per worker (ormcache); any change here
    clears the registry cache, which Odoo signals to the other workers, so a
    model tracked from the UI is captured at once, without a restart.
    """

    _name = "webhook.tracked.model"
    _inherit = "webhook.model.name.mixin"
    _description = "Webhook Tracked Model"
    _order = "model"

    model = fields.Char(
        required=True,
        help="Technical name, e.g. sale.order. It may name a model whose module "
        "is not installed yet: capture starts when it is installed.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("model_unique", "unique(model)", "This model is already tracked."),
    ]

    @api.constrains("model")
    def _check_model(self):
        for tracked in self:
            if not _MODEL_NAME.match(tracked.model or ""):
                raise ValidationError(
                    _("%(name)r is not a model's technical name.", name=tracked.model)
                )
            if tracked.model in OWN_MODELS:
                raise ValidationError(
                    _("%(name)s belongs to the webhook addon itself.", name=tracked.model)
                )
            if tracked.model in self.env:
                model = self.env[tracked.model]
                if model._abstract or model._transient or not model._auto:
                    raise ValidationError(
                        _(
                            "%(name)s is not stored in its own table: it cannot be tracked.",
                            name=tracked.model,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        if {"model", "active"} & set(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def init(self):
        # The table exists from here on: forget a lookup cached while it did
        # not (during this addon's own installation).
        self.env.registry.clear_cache()

    @api.model
    @tools.ormcache()
    def _get_tracked_model_names(self):
        """The names of the tracked models (frozenset), read once per worker
        until the registry cache is cleared.

        Plain SQL: it runs inside every create / write / unlink of every
        model, for any user, and must not depend on access rights.
        """
        if not {"model", "active"} <= table_columns(self.env.cr, self._table).keys():
            return frozenset()  # this addon is being installed or uninstalled
        self.flush_model(["model", "active"])
        self.env.cr.execute(f"SELECT model FROM {self._table} WHERE active")
        return frozenset(name for (name,) in self.env.cr.fetchall()) - OWN_MODELS
