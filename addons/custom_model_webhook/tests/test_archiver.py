# Copyright 2026 Odoo smart sync contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo_webhook_core import archiving

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestArchiver(WebhookCase):
    def setUp(self):
        super().setUp()
        # Archiving works on the whole table: start from a clean one.
        self.env.cr.execute("DELETE FROM update_webhook")
        self.now = self.env.cr.now()

    def old_event(self, days, archived=False):
        """An event captured `days` ago (time moved, not slept)."""
        partner = self.env["res.partner"].create({"name": f"{days} days old"})
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE update_webhook SET "timestamp" = %s, is_archived = %s,
                   archive_date = CASE WHEN %s THEN %s END
             WHERE model = 'res.partner' AND record_id = %s RETURNING id
            """,
            (self.now - timedelta(days=days), archived, archived, self.now, partner.id),
        )
        return self.env["update.webhook"].browse(self.env.cr.fetchone()[0])

    def test_the_cron_is_active_daily_and_calls_the_archiver(self):
        cron = self.env.ref("custom_model_webhook.cron_webhook_auto_archive")
        self.assertEqual(cron.name, "Webhook Auto Archive")
        self.assertTrue(cron.active)
        self.assertEqual(cron.model_id.model, "webhook.archiver")
        self.assertEqual(cron.code.strip(), "model.auto_archive()")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))

    def test_the_cron_runs_the_shared_rules(self):
        fresh, forced = self.old_event(1), self.old_event(31)
        purged = self.old_event(91, archived=True)
        cron = self.env.ref("custom_model_webhook.cron_webhook_auto_archive")
        with patch.object(
            archiving, "run_archiving", wraps=archiving.run_archiving
        ) as run_archiving:
            cron.method_direct_trigger()
        self.assertEqual(run_archiving.call_count, 1, "the one implementation, from the server")
        self.assertFalse(fresh.is_archived)
        self.assertTrue(forced.is_archived, "rule 2: archived after 30 days whatever happened")
        self.assertTrue(forced.archive_date)
        self.assertFalse(purged.exists(), "rule 3: deleted 90 days after")

    def test_auto_archive_reads_the_thresholds_from_the_settings(self):
        event = self.old_event(8)  # archived under the default 7 days: no device lags
        settings = self.env["res.config.settings"].create(
            {
                "webhook_archive_after_days": 10,
                "webhook_force_archive_after_days": 60,
                "webhook_delete_after_days": 120,
                "webhook_inactive_device_days": 15,
            }
        )
        settings.execute()
        summary = self.env["webhook.archiver"].auto_archive()
        self.assertFalse(event.is_archived)
        self.assertEqual(
            summary["policy"],
            {
                "archive_after_days": 10,
                "force_archive_after_days": 60,
                "delete_after_days": 120,
                "inactive_device_days": 15,
            },
        )

    def test_default_thresholds(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(
            (
                settings.webhook_archive_after_days,
                settings.webhook_force_archive_after_days,
                settings.webhook_delete_after_days,
                settings.webhook_inactive_device_days,
            ),
            (7, 30, 90, 30),
        )

    def test_inconsistent_thresholds_are_refused(self):
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create(
                {"webhook_archive_after_days": 40, "webhook_force_archive_after_days": 30}
            )

    def test_archive_stats(self):
        self.old_event(1)
        self.old_event(2)
        self.old_event(3, archived=True)
        stats = self.env["webhook.archiver"].get_archive_stats()
        self.assertEqual(
            {k: stats[k] for k in ("total_events", "active_events", "archived_events")},
            {"total_events": 3, "active_events": 2, "archived_events": 1},
        )
        self.assertEqual(stats["archive_percentage"], 33.3)
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.webhook_total_events, 3)
        self.assertEqual(settings.webhook_archive_percentage, 33.3)

    def test_archive_stats_of_an_empty_table(self):
        stats = self.env["webhook.archiver"].get_archive_stats()
        self.assertEqual(
            {k: stats[k] for k in ("total_events", "active_events", "archived_events")},
            {"total_events": 0, "active_events": 0, "archived_events": 0},
        )
        self.assertEqual(stats["archive_percentage"], 0.0)

    def test_synced_events_are_archived_only_when_every_active_device_acknowledged(self):
        event = self.old_event(8)
        self.env.flush_all()
        state = self.env["user.sync.state"].create(
            {"user_id": self.env.uid, "device_id": "cmw-lagging", "app_type": "sales_app"}
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE user_sync_state SET last_sync_time = %s WHERE id = %s", (self.now, state.id)
        )
        self.env["webhook.archiver"].auto_archive()
        self.assertFalse(event.is_archived, "rule 1: a device has not acknowledged it")
        state.action_deactivate()
        self.env["webhook.archiver"].auto_archive()
        self.assertTrue(event.is_archived, "an inactive device no longer holds it back")
