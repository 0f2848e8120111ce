-- What the sync engine needs in update_webhook beyond what Odoo's ORM creates.
-- Idempotent: run by `odoo-webhook-server init-db` after tables.sql and by the
-- addon's model init() on every install/upgrade (Odoo has no bigint field).
-- Works on PostgreSQL 12+ (txid_* functions; xid8 arrived in 13).

-- The writing transaction's id, filled by the database itself: readers serve
-- only events of transactions older than their snapshot's xmin, in
-- (txid, id) order, so a transaction that commits late can never be skipped.
ALTER TABLE update_webhook ADD COLUMN IF NOT EXISTS txid int8 NOT NULL DEFAULT txid_current();
CREATE INDEX IF NOT EXISTS update_webhook_txid_id_index ON update_webhook (txid, id);
CREATE INDEX IF NOT EXISTS update_webhook_model_txid_id_index ON update_webhook (model, txid, id);

-- The archiver walks unarchived events oldest first; archived rows leave
-- this index, so a daily run never rereads months of archived history.
CREATE INDEX IF NOT EXISTS update_webhook_unarchived_index
    ON update_webhook ("timestamp", id) WHERE is_archived IS NOT TRUE;

-- Per model, the furthest stream position ever deleted. A device whose
-- acknowledged position is behind it for one of its models has missed
-- events for good and is told to resync, instead of silently skipping them.
CREATE TABLE IF NOT EXISTS update_webhook_purge (
    model     varchar PRIMARY KEY,
    txid      int8 NOT NULL,
    event_id  int4 NOT NULL,
    purged_at timestamp NOT NULL
);

-- Wake-ups: one NOTIFY per transaction that wrote events, at its commit,
-- "<txid>;<models it changed, comma-separated, sorted>", so that a server
-- wakes only the pulls waiting for those models. '*' when the list would not
-- fit a notification (8000 bytes): every waiting pull looks. Any insert into
-- update_webhook counts, the capture triggers' as well as plain SQL's.
-- The trigger is deferred to the commit, and queued once per transaction:
-- its WHEN marks the transaction (a transaction-local setting, undone with
-- a savepoint rolled back, as is the queued trigger itself).
CREATE OR REPLACE FUNCTION custom_model_webhook_first_event_of_transaction() RETURNS bool
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('custom_model_webhook.notify_queued', true) = 'on' THEN
        RETURN false;
    END IF;
    PERFORM set_config('custom_model_webhook.notify_queued', 'on', true);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION custom_model_webhook_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    models text;
BEGIN
    SELECT string_agg(DISTINCT model, ',' ORDER BY model) INTO models
      FROM update_webhook WHERE txid = txid_current();
    IF models IS NOT NULL THEN
        PERFORM pg_notify('custom_model_webhook_event', txid_current()::text || ';' ||
                          CASE WHEN octet_length(models) > 7900 THEN '*' ELSE models END);
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger
                    WHERE tgrelid = 'update_webhook'::regclass
                      AND tgname = 'update_webhook_notify') THEN
        CREATE CONSTRAINT TRIGGER update_webhook_notify
            AFTER INSERT ON update_webhook
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW
            WHEN (custom_model_webhook_first_event_of_transaction())
            EXECUTE FUNCTION custom_model_webhook_notify();
    END IF;
END
$$;
