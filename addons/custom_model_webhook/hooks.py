# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Install and uninstall hooks; both are idempotent."""

from odoo_webhook_server.storage.capture import drop_capture_sql
from odoo_webhook_server.storage.schema import seed_app_types_sql

from .models.webhook_tracked_model import DEFAULT_TRACKED_MODELS


def post_init_hook(env):
    _seed_app_types(env)
    _seed_tracked_models(env)


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
