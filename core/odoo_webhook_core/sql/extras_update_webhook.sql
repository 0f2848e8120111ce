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
