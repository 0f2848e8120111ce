-- Capture in the database: what a tracked model's table commits, by any path
-- (ORM calls, flushes of stored computed and related fields, ON DELETE
-- CASCADE / SET NULL, SQL of other addons), becomes events in update_webhook
-- in the same transaction. storage/capture.py puts statement-level AFTER
-- triggers with transition tables on each tracked table: one INSERT ... SELECT
-- per statement, whatever its row count.
-- Idempotent (CREATE OR REPLACE); run by the addon's update.webhook init() and
-- by `odoo-webhook-server init-db`. PostgreSQL 11+ (EXECUTE FUNCTION).

-- The Odoo user behind the current transaction's changes: the addon's ORM
-- hook keeps the transaction-local setting custom_model_webhook.uid up to
-- date (set_config(..., true)); NULL outside Odoo (psql, another program).
CREATE OR REPLACE FUNCTION custom_model_webhook_author() RETURNS int4
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('custom_model_webhook.uid', true), '')::int4
$$;

-- The names of the columns whose value differs between two versions of a
-- row, sorted and comma-separated, ignoring `ignored`; NULL when none does.
-- Column names are Odoo field names. jsonb equality compares numbers by
-- value and translations (jsonb columns) by content.
CREATE OR REPLACE FUNCTION custom_model_webhook_changed_columns(
    new_row jsonb, old_row jsonb, ignored text[]
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(col.key, ',' ORDER BY col.key)
      FROM jsonb_each(new_row) AS col
     WHERE col.value IS DISTINCT FROM old_row -> col.key
       AND col.key <> ALL (ignored)
$$;

-- The event's author for a changed row: the row's write_uid when this very
-- statement set it (an ORM write), otherwise the transaction's Odoo user
-- (a recomputed field, a cascade, SQL), otherwise the row's last writer.
CREATE OR REPLACE FUNCTION custom_model_webhook_write_author(new_row jsonb, old_row jsonb)
RETURNS int4
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN new_row -> 'write_uid' IS DISTINCT FROM old_row -> 'write_uid'
          OR new_row -> 'write_date' IS DISTINCT FROM old_row -> 'write_date'
        THEN (new_row ->> 'write_uid')::int4
        ELSE coalesce(custom_model_webhook_author(), (new_row ->> 'write_uid')::int4)
    END
$$;

-- Whether the row was created by the ORM in the current transaction (Odoo
-- stamps create_date with the transaction's start). A cheap first filter:
-- the writes that Odoo's create() itself makes right after the INSERT
-- (parent_path, stored computed fields) are part of the creation, and make
-- no event when this transaction's "create" event of the row is there.
CREATE OR REPLACE FUNCTION custom_model_webhook_created_here(new_row jsonb) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT coalesce((new_row ->> 'create_date')::timestamp = now() AT TIME ZONE 'UTC', false)
$$;

-- The trigger on a tracked model's own table, one per operation.
--   TG_ARGV[0]  the model's name (sale.order)
-- An UPDATE that changes no column but write_date / write_uid makes no
-- event, nor one of a row whose "create" event this transaction wrote. The
-- NOTIFY that wakes the servers is update_webhook's own trigger, at commit
-- (extras_update_webhook.sql).
CREATE OR REPLACE FUNCTION custom_model_webhook_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                                    changed_fields, is_archived, min_users_synced,
                                    create_uid, create_date, write_uid, write_date)
        SELECT TG_ARGV[0], n.id, 'create', now() AT TIME ZONE 'UTC',
               coalesce(custom_model_webhook_author(), (to_jsonb(n) ->> 'create_uid')::int4),
               NULL, false, 0, NULL, now() AT TIME ZONE 'UTC', NULL, now() AT TIME ZONE 'UTC'
          FROM new_rows AS n
         ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Each version of a row becomes jsonb once (MATERIALIZED: a CTE used
        -- twice, or a function argument, would convert it again); rows this
        -- transaction created are left out before the costly comparison.
        WITH versions AS MATERIALIZED (
            SELECT n.id, to_jsonb(n) AS new_row, to_jsonb(o) AS old_row
              FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        ), created AS MATERIALIZED (
            SELECT e.record_id FROM update_webhook AS e
             WHERE e.model = TG_ARGV[0] AND e.txid = txid_current() AND e.event = 'create'
               AND EXISTS (SELECT FROM versions AS v
                            WHERE custom_model_webhook_created_here(v.new_row))
        ), changed AS MATERIALIZED (
            SELECT v.id, diff.fields,
                   custom_model_webhook_write_author(v.new_row, v.old_row) AS author
              FROM versions AS v
             CROSS JOIN LATERAL (
                    SELECT string_agg(col.key, ',' ORDER BY col.key) AS fields
                      FROM jsonb_each(v.new_row) AS col
                     WHERE col.value IS DISTINCT FROM v.old_row -> col.key
                       AND col.key NOT IN ('write_date', 'write_uid')
                   ) AS diff
             WHERE NOT (custom_model_webhook_created_here(v.new_row)
                        AND v.id IN (SELECT record_id FROM created))
        )
        INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                                    changed_fields, is_archived, min_users_synced,
                                    create_uid, create_date, write_uid, write_date)
        SELECT TG_ARGV[0], changed.id, 'write', now() AT TIME ZONE 'UTC', changed.author,
               changed.fields, false, 0, NULL, now() AT TIME ZONE 'UTC', NULL,
               now() AT TIME ZONE 'UTC'
          FROM changed
         WHERE changed.fields IS NOT NULL
         ORDER BY changed.id;
    ELSE
        INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                                    changed_fields, is_archived, min_users_synced,
                                    create_uid, create_date, write_uid, write_date)
        SELECT TG_ARGV[0], o.id, 'unlink', now() AT TIME ZONE 'UTC',
               custom_model_webhook_author(), NULL, false, 0,
               NULL, now() AT TIME ZONE 'UTC', NULL, now() AT TIME ZONE 'UTC'
          FROM old_rows AS o
         ORDER BY o.id;
    END IF;
    RETURN NULL;
END
$$;

-- The UPDATE trigger on the parent table of a tracked model that _inherits
-- it (product_template for product.product, res_partner for res.users): a
-- change of a parent row is a write of each of its children.
--   TG_ARGV[0]  the child model (product.product)
--   TG_ARGV[1]  the child's table (product_product)
--   TG_ARGV[2]  the child's column linking to the parent (product_tmpl_id)
--   TG_ARGV[3:] parent columns the child does not inherit (it has its own
--               field of that name), ignored with write_date / write_uid
-- changed_fields names the parent fields that changed, as the child model
-- shows them (inherited fields keep their names). Inserts and deletes of the
-- parent need nothing here: the child's own rows are inserted, and deleted
-- by ON DELETE CASCADE, under the child's own trigger.
CREATE OR REPLACE FUNCTION custom_model_webhook_capture_inherited() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        $sql$
        WITH versions AS MATERIALIZED (
            SELECT n.id, to_jsonb(n) AS new_row, to_jsonb(o) AS old_row
              FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        ), changed AS MATERIALIZED (
            SELECT v.id, custom_model_webhook_created_here(v.new_row) AS created_here,
                   custom_model_webhook_changed_columns(v.new_row, v.old_row, $1) AS fields,
                   custom_model_webhook_write_author(v.new_row, v.old_row) AS author
              FROM versions AS v
        ), created AS MATERIALIZED (
            SELECT e.record_id FROM update_webhook AS e
             WHERE e.model = %1$L AND e.txid = txid_current() AND e.event = 'create'
               AND EXISTS (SELECT FROM changed WHERE changed.created_here)
        )
        INSERT INTO update_webhook (model, record_id, event, "timestamp", user_id,
                                    changed_fields, is_archived, min_users_synced,
                                    create_uid, create_date, write_uid, write_date)
        SELECT %1$L, child.id, 'write', now() AT TIME ZONE 'UTC', changed.author,
               changed.fields, false, 0, NULL, now() AT TIME ZONE 'UTC', NULL,
               now() AT TIME ZONE 'UTC'
          FROM changed
          JOIN %2$I AS child ON child.%3$I = changed.id
         WHERE changed.fields IS NOT NULL
           AND NOT (changed.created_here AND child.id IN (SELECT record_id FROM created))
         ORDER BY child.id
        $sql$,
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]
    ) USING ARRAY['write_date', 'write_uid'] || TG_ARGV[3:];
    RETURN NULL;
END
$$;
