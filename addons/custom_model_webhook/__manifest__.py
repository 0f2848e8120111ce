# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Auto Webhook Flutter",
    "summary": "Capture changes of chosen models for gap-free sync of mobile apps",
    "version": "18.0.3.2.0",
    "category": "Technical",
    "website": "https://github.com/odoo-smart-sync/odoo-webhook-server",
    "author": "Odoo smart sync contributors",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    # The schema, the capture SQL and the archiving rules live in the small,
    # dependency-free core package (this repository's core/), which the sync
    # server uses too: one implementation, and nothing else in Odoo's Python.
    # Odoo checks this against the installed distribution's name.
    "external_dependencies": {"python": ["odoo-webhook-core"]},
    "depends": ["base"],
    "data": [
        "security/custom_model_webhook_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/update_webhook_views.xml",
        "views/user_sync_state_views.xml",
        "views/webhook_tracked_model_views.xml",
        "views/webhook_app_type_views.xml",
        "views/res_config_settings_views.xml",
        "views/menus.xml",
    ],
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
