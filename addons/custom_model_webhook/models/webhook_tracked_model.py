# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools.sql import table_columns, table_exists

from odoo_webhook_core.capture import (
    InheritedParent,
    TrackedTable,
    installed_capture_triggers,
    sync_capture_triggers,
)

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
    """A model whose rows are captured: every insert, update and delete of
    its table (and updates of the tables it _inherits) becomes an event.

    Capture is a set of PostgreSQL triggers, kept equal to the active tracked
    models that are installed (_sync_capture): on every change here, in the
    same transaction, so tracking or untracking takes effect for every worker
    at commit; and whenever a registry is loaded, which is how a model whose
    module is installed later starts being captured.
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
    table = fields.Char(compute="_compute_capture", help="The model's table in the database.")
    capture_installed = fields.Boolean(
        string="Capture Installed",
        compute="_compute_capture",
        help="The capture triggers are on the model's table: its changes are recorded.",
    )
    capture_tables = fields.Char(
        string="Captured Tables",
        compute="_compute_capture",
        help="The tables whose changes are this model's events: its own, and those of "
        "the models it inherits (_inherits), e.g. product_template for product.product.",
    )

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

    @api.depends("model", "active")
    def _compute_capture(self):
        installed = {}
        for trigger in installed_capture_triggers(self.env.cr):
            model = trigger.args[0] if trigger.args else ""
            installed.setdefault(model, set()).add(trigger.table)
        for tracked in self:
            model = self.env.get(tracked.model) if tracked.model else None
            tracked.table = model._table if model is not None else False
            tables = installed.get(tracked.model, set())
            tracked.capture_installed = bool(model is not None and model._table in tables)
            tracked.capture_tables = ", ".join(sorted(tables)) or False

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self._capture_changed()
        return records

    def write(self, vals):
        result = super().write(vals)
        if {"model", "active"} & set(vals):
            self._capture_changed()
        return result

    def unlink(self):
        result = super().unlink()
        self._capture_changed()
        return result

    def init(self):
        # The table exists from here on: forget a lookup cached while it did
        # not (during this addon's own installation).
        self.env.registry.clear_cache()

    def _register_hook(self):
        super()._register_hook()
        self._sync_capture()

    def _capture_changed(self):
        self.env.registry.clear_cache()
        self._sync_capture()

    @api.model
    def _sync_capture(self):
        """Put the capture triggers exactly on the tables of the active,
        installed tracked models (and their _inherits parents). Cheap when
        they are there already (one catalog query)."""
        if not table_exists(self.env.cr, "update_webhook"):
            return  # this addon is being installed or uninstalled
        sync_capture_triggers(self.env.cr, self._tracked_tables())

    @api.model
    def _tracked_tables(self):
        tables = []
        for name in sorted(self._get_tracked_model_names()):
            model = self.env.get(name)
            if model is None or model._abstract or model._transient or not model._auto:
                continue  # not installed (yet), or not a table of its own
            if not table_exists(self.env.cr, model._table):
                continue  # its module is being installed: the next registry load adds it
            parents = tuple(
                InheritedParent(
                    self.env[parent]._table, link, self._not_inherited(model, self.env[parent])
                )
                for parent, link in sorted(model._inherits.items())
            )
            tables.append(TrackedTable(name, model._table, parents))
        return tables

    @staticmethod
    def _not_inherited(child, parent):
        """The parent's columns whose name the child uses for a field of its
        own (product.product's own `active`): they change nothing the child
        shows."""
        return tuple(
            name
            for name, field in parent._fields.items()
            if field.store
            and field.column_type
            and name in child._fields
            and not child._fields[name].inherited
        )

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
