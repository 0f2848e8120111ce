-- What the sync engine needs in user_sync_state beyond what Odoo's ORM creates.
-- Idempotent: run by `odoo-webhook-server init-db` after tables.sql and by
-- user.sync.state's init() in the addon.

-- A device's position is a (txid, event id) pair. "ack" is what the device
-- has confirmed (last_event_id holds its event id, as in the guide);
-- "issued" is what the last response handed out in next_sync_token.
ALTER TABLE user_sync_state ADD COLUMN IF NOT EXISTS ack_txid int8 NOT NULL DEFAULT 0;
ALTER TABLE user_sync_state ADD COLUMN IF NOT EXISTS issued_txid int8 NOT NULL DEFAULT 0;
ALTER TABLE user_sync_state ADD COLUMN IF NOT EXISTS issued_event_id int4 NOT NULL DEFAULT 0;

-- Commit-order delivery (the server's sync/position.py): the exact positions,
-- as text "base snapshot;top snapshot;txid:event id". The linear columns
-- above then hold their low-water cursor: every event up to it is delivered,
-- which is what archiving and the statistics compare. NULL (rows written
-- before, or a device the addon moved to an event): the linear cursor is the
-- position, exactly.
ALTER TABLE user_sync_state ADD COLUMN IF NOT EXISTS ack_position varchar;
ALTER TABLE user_sync_state ADD COLUMN IF NOT EXISTS issued_position varchar;
