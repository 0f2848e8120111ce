# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

_CODE = re.compile(r"^[a-z0-9_]+$")


class WebhookAppType(models.Model):
    """A kind of app (sales_app, delivery_app, ...) and the models its devices
    receive. The sync server reads this table on every pull, so an edit here
    applies to the next pull without a restart."""

    _name = "webhook.app.type"
    _description = "Webhook App Type"
    _order = "code"

    code = fields.Char(required=True, help="Sent by the apps as app_type, e.g. sales_app.")
    name = fields.Char(required=True)
    all_models = fields.Boolean(
        string="All Models",
        default=False,
        help="Devices of this type receive the events of every model.",
    )
    active = fields.Boolean(default=True)
    model_ids = fields.One2many("webhook.app.type.model", "app_type_id", string="Models")
    # Table and columns named in the server's schema (tables.sql), which reads them.
    group_ids = fields.Many2many(
        "res.groups",
        relation="webhook_app_type_group_rel",
        column1="app_type_id",
        column2="group_id",
        string="Allowed Groups",
        help="Only users of one of these groups may sync this app type (the sync "
        "server answers 403 to others); empty = every user. Whatever the app "
        "type, a user receives only the models they may read.",
    )

    _sql_constraints = [
        ("code_unique", "unique(code)", "An app type with this code already exists."),
    ]

    @api.constrains("code")
    def _check_code(self):
        for app_type in self:
            if not _CODE.match(app_type.code or ""):
                raise ValidationError(
                    _(
                        "App type code %(code)r: use lowercase letters, digits and underscores.",
                        code=app_type.code,
                    )
                )
