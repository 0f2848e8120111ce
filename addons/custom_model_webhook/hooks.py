# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Install and uninstall hooks; both are idempotent."""

from odoo import Command

from odoo_webhook_core.capture import drop_capture_sql
from odoo_webhook_core.schema import seed_app_types_sql

from .models.webhook_tracked_model import DEFAULT_TRACKED_MODELS


# The groups an app type is limited to by default (xml ids): an app type
# that receives every model is for administrators and Webhook Managers.
DEFAULT_APP_TYPE_GROUPS = {
    "manager_app": ("base.group_system", "custom_model_webhook.group_webhook_manager"),
}


def post_init_hook(env):
    _seed_app_types(env)
    seed_app_type_groups(env)
    _seed_tracked_models(env)


def seed_app_type_groups(env):
    """Limit the default app types to their default groups, unless limited
    already: an administrator's choice of groups is kept. Run at install and
    by the 18.0.3.1.0 migration (which added the groups)."""
    app_types = env["webhook.app.type"].with_context(active_test=False)
    for code, xmlids in DEFAULT_APP_TYPE_GROUPS.items():
        app_type = app_types.search([("code", "=", code)])
        if not app_type or app_type.group_ids:
            continue
        groups = [env.ref(xmlid, raise_if_not_found=False) for xmlid in xmlids]
        app_type.group_ids = [Command.link(group.id) for group in groups if group]


def _seed_app_types(env):
    # The guide's app types (sales_app, delivery_app, manager_app = "*"),
    # from the server package: the same rows `odoo-webhook-server init-db`
    # writes. Existing codes are left alone (ON CONFLICT DO NOTHING).
    for query, params in seed_app_types_sql():
        env.cr.execute(query, params)
    env["webhook.app.type"].invalidate_model()


def _seed_tracked_models(env):
    # By name, installed or not; one that exists already (even inactive,
    # i.e. switched off by an administrator) is left alone.
    tracked = env["webhook.tracked.model"].with_context(active_test=False)
    existing = set(tracked.search([]).mapped("model"))
    missing = [name for name in DEFAULT_TRACKED_MODELS if name not in existing]
    tracked.create([{"model": name} for name in missing])


def uninstall_hook(env):
    # Stop capturing first: Odoo goes on changing records while it removes
    # the addon, and drops update_webhook on the way; a capture trigger left
    # behind would then fail every change of a tracked table.
    env.cr.execute("DELETE FROM webhook_tracked_model")
    env.cr.execute(drop_capture_sql())
    env.registry.clear_cache()
    # Odoo drops the tables of the addon's models; this one is not a model
    # (the server's per-model purge marks, see extras_update_webhook.sql).
    env.cr.execute("DROP TABLE IF EXISTS update_webhook_purge")
