# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo_webhook_core.archiving import POLICY_PARAMETERS, ArchivePolicy


class ResConfigSettings(models.TransientModel):
    """Archiving thresholds (stored in ir.config_parameter, where the shared
    archiving code reads them) and the archive statistics."""

    _inherit = "res.config.settings"

    webhook_archive_after_days = fields.Integer(
        string="Archive Synced Events After (days)",
        config_parameter=POLICY_PARAMETERS["archive_after_days"],
        default=ArchivePolicy.archive_after_days,
    )
    webhook_force_archive_after_days = fields.Integer(
        string="Archive All Events After (days)",
        config_parameter=POLICY_PARAMETERS["force_archive_after_days"],
        default=ArchivePolicy.force_archive_after_days,
    )
    webhook_delete_after_days = fields.Integer(
        string="Delete Archived Events After (days)",
        config_parameter=POLICY_PARAMETERS["delete_after_days"],
        default=ArchivePolicy.delete_after_days,
    )
    webhook_inactive_device_days = fields.Integer(
        string="Device Inactive After (days)",
        config_parameter=POLICY_PARAMETERS["inactive_device_days"],
        default=ArchivePolicy.inactive_device_days,
    )
    webhook_total_events = fields.Integer(
        string="Total Events", compute="_compute_webhook_archive_stats"
    )
    webhook_active_events = fields.Integer(
        string="Active Events", compute="_compute_webhook_archive_stats"
    )
    webhook_archived_events = fields.Integer(
        string="Archived Events", compute="_compute_webhook_archive_stats"
    )
    webhook_archive_percentage = fields.Float(
        string="Archived (%)", digits=(5, 1), compute="_compute_webhook_archive_stats"
    )
    webhook_active_devices = fields.Integer(
        string="Active Devices", compute="_compute_webhook_archive_stats"
    )
    webhook_inactive_devices = fields.Integer(
        string="Inactive Devices", compute="_compute_webhook_archive_stats"
    )

    def _compute_webhook_archive_stats(self):
        # Settings are for administrators already (res.config.settings' own
        # access rights); the statistics hold no record data.
        stats = self.env["webhook.archiver"].sudo().get_archive_stats()
        for settings in self:
            settings.webhook_total_events = stats["total_events"]
            settings.webhook_active_events = stats["active_events"]
            settings.webhook_archived_events = stats["archived_events"]
            settings.webhook_archive_percentage = stats["archive_percentage"]
            settings.webhook_active_devices = stats.get("active_devices", 0)
            settings.webhook_inactive_devices = stats.get("inactive_devices", 0)

    @api.constrains(
        "webhook_archive_after_days",
        "webhook_force_archive_after_days",
        "webhook_delete_after_days",
        "webhook_inactive_device_days",
    )
    def _check_webhook_archive_policy(self):
        # The shared policy's own validation: the settings can never store
        # thresholds that the archiver would then refuse.
        for settings in self:
            try:
                ArchivePolicy(
                    archive_after_days=settings.webhook_archive_after_days,
                    force_archive_after_days=settings.webhook_force_archive_after_days,
                    delete_after_days=settings.webhook_delete_after_days,
                    inactive_device_days=settings.webhook_inactive_device_days,
                )
            except ValueError as error:
                raise ValidationError(str(error)) from error

    def action_webhook_auto_archive(self):
        """Run the archiving now (settings button), in this transaction."""
        self.env["webhook.archiver"].auto_archive()
        return True
