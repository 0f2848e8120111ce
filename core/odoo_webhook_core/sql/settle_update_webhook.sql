-- PostgreSQL refuses DDL on a table with pending trigger events. A
-- transaction that wrote events holds one: update_webhook_notify, deferred
-- to its commit (extras_update_webhook.sql). Odoo changes the schema in the
-- transaction that installs or upgrades modules, after their data wrote
-- events: run this first. It sends the notification of the events so far
-- now (delivered at commit, as always) and lets later events of the
-- transaction queue another one.
DO $$
BEGIN
    IF to_regclass('update_webhook') IS NOT NULL
       AND EXISTS (SELECT FROM pg_trigger
                    WHERE tgrelid = to_regclass('update_webhook')
                      AND tgname = 'update_webhook_notify') THEN
        SET CONSTRAINTS update_webhook_notify IMMEDIATE;
        SET CONSTRAINTS update_webhook_notify DEFERRED;
        PERFORM set_config('custom_model_webhook.notify_queued', '', true);
    END IF;
END
$$;
