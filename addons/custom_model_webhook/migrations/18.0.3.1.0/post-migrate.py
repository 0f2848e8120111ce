# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""18.0.3.1.0 added the groups an app type is limited to (group_ids): give
the existing databases the default (manager_app: administrators and Webhook
Managers), as a new install does, keeping any groups already chosen."""

from odoo import SUPERUSER_ID, api

from odoo.addons.custom_model_webhook.hooks import seed_app_type_groups


def migrate(cr, version):
    if not version:
        return  # a new install: the post_init_hook seeds
    seed_app_type_groups(api.Environment(cr, SUPERUSER_ID, {}))
