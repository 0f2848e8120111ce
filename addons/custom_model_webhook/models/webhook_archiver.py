# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import SUPERUSER_ID, _, api, models, tools
from odoo.exceptions import AccessError
from odoo.modules import module

from odoo_webhook_core import archiving


class WebhookArchiver(models.AbstractModel):
    """Archiving of the event stream, run daily by the cron "Webhook Auto
    Archive". The rules (7 / 30 / 90 days, set in Settings) are the server
    package's odoo_webhook_core.archiving, the same code that the
    server's `odoo-webhook-server archive` command runs."""

    _name = "webhook.archiver"
    _description = "Webhook Event Archiver"

    @api.model
    def auto_archive(self, batch_size=5000):
        """Apply the archiving rules; returns the summary
        ({archived_synced, archived_forced, deleted, ...})."""
        self._check_webhook_group("custom_model_webhook.group_webhook_manager")
        # The rules run in SQL: make pending ORM writes visible to them.
        self.env.flush_all()
        policy = archiving.read_policy(self.env.cr)
        summary = archiving.run_archiving(
            self.env.cr, policy, batch_size=batch_size, commit=self._batch_commit()
        )
        # Rows changed behind the ORM's back. (run_archiving logs the summary.)
        self.env["update.webhook"].invalidate_model()
        return summary

    @api.model
    def get_archive_stats(self):
        """{total_events, active_events, archived_events, archive_percentage,
        active_devices, inactive_devices}"""
        self._check_webhook_group("custom_model_webhook.group_webhook_user")
        self.env.flush_all()
        policy = archiving.read_policy(self.env.cr)
        return archiving.archive_stats(
            self.env.cr, inactive_device_days=policy.inactive_device_days
        )

    @api.model
    def action_show_archive_stats(self):
        """The statistics as a notification (menu Configuration > Archive
        Statistics, for managers who are not administrators and so do not
        see the Settings screen)."""
        self._check_webhook_group("custom_model_webhook.group_webhook_manager")
        stats = self.get_archive_stats()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Archive statistics"),
                "message": _(
                    "%(total_events)s events: %(active_events)s active, "
                    "%(archived_events)s archived (%(archive_percentage)s %%). "
                    "Devices: %(active_devices)s active, %(inactive_devices)s inactive.",
                    **stats,
                ),
                "type": "info",
                "sticky": True,
            },
        }

    def _batch_commit(self):
        """Inside the cron, commit after every batch to keep locks and
        transactions short; anywhere else (a button, the shell, tests) the
        caller owns the transaction."""
        in_cron = bool(self.env.context.get("ir_cron_progress_id"))
        if in_cron and not (tools.config["test_enable"] or module.current_test):
            return self.env.cr.commit
        return None

    def _check_webhook_group(self, group):
        # Public model methods are callable over RPC: check who calls. The
        # cron runs as the superuser.
        if not (self.env.su or self.env.uid == SUPERUSER_ID or self.env.user.has_group(group)):
            raise AccessError(_("You are not allowed to run the webhook archiver."))
