-- The tables Odoo's ORM creates for the addon custom_model_webhook, written out
-- column for column (Odoo 18 types: Char/Selection -> varchar, Integer -> int4,
-- Boolean -> bool, Datetime -> timestamp, Text -> text; index=True ->
-- "<table>__<column>_index"; _sql_constraints -> "<table>_<name>").
-- `odoo-webhook-server init-db` runs this on an empty database (development,
-- demos, benchmarks); in a real Odoo the addon's models create the same
-- tables and the addon's test test_schema compares both, column by column.
-- Foreign keys to res_users are left to Odoo: a bare database has no res_users.
-- What the ORM cannot express (transaction ids, cursor indexes) is in extras_<table>.sql.

CREATE TABLE IF NOT EXISTS update_webhook (
    id               SERIAL NOT NULL PRIMARY KEY,
    model            varchar NOT NULL,
    record_id        int4 NOT NULL,
    event            varchar NOT NULL,
    "timestamp"      timestamp NOT NULL,
    user_id          int4,
    changed_fields   text,
    is_archived      bool,
    archive_date     timestamp,
    min_users_synced int4,
    create_uid       int4,
    create_date      timestamp,
    write_uid        int4,
    write_date       timestamp
);
CREATE INDEX IF NOT EXISTS update_webhook__timestamp_index ON update_webhook ("timestamp");
CREATE INDEX IF NOT EXISTS update_webhook__is_archived_index ON update_webhook (is_archived);

CREATE TABLE IF NOT EXISTS user_sync_state (
    id             SERIAL NOT NULL PRIMARY KEY,
    user_id        int4 NOT NULL,
    device_id      varchar NOT NULL,
    app_type       varchar NOT NULL,
    models_filter  varchar,
    last_event_id  int4,
    last_sync_time timestamp,
    sync_count     int4,
    is_active      bool,
    create_uid     int4,
    create_date    timestamp,
    write_uid      int4,
    write_date     timestamp,
    CONSTRAINT user_sync_state_user_device_unique UNIQUE (user_id, device_id)
);

CREATE TABLE IF NOT EXISTS webhook_app_type (
    id          SERIAL NOT NULL PRIMARY KEY,
    code        varchar NOT NULL,
    name        varchar NOT NULL,
    all_models  bool,
    active      bool,
    create_uid  int4,
    create_date timestamp,
    write_uid   int4,
    write_date  timestamp,
    CONSTRAINT webhook_app_type_code_unique UNIQUE (code)
);

CREATE TABLE IF NOT EXISTS webhook_app_type_model (
    id          SERIAL NOT NULL PRIMARY KEY,
    app_type_id int4 NOT NULL REFERENCES webhook_app_type (id) ON DELETE CASCADE,
    model       varchar NOT NULL,
    create_uid  int4,
    create_date timestamp,
    write_uid   int4,
    write_date  timestamp,
    CONSTRAINT webhook_app_type_model_app_type_model_unique UNIQUE (app_type_id, model)
);

-- The many2many webhook.app.type.group_ids (res.groups): an app type with
-- rows here is only for users of one of those groups. Odoo creates it as
-- fields.Many2many does (primary key, reverse index); its foreign key to
-- res_groups is left to Odoo, as those to res_users.
CREATE TABLE IF NOT EXISTS webhook_app_type_group_rel (
    app_type_id int4 NOT NULL REFERENCES webhook_app_type (id) ON DELETE CASCADE,
    group_id    int4 NOT NULL,
    PRIMARY KEY (app_type_id, group_id)
);
CREATE INDEX IF NOT EXISTS webhook_app_type_group_rel_group_id_app_type_id_idx
    ON webhook_app_type_group_rel (group_id, app_type_id);

-- Odoo's own parameter table, created only when the database is not an Odoo
-- database: the sync token is bound to database.uuid and signed with
-- database.secret, which every Odoo database has (init-db fills them).
CREATE TABLE IF NOT EXISTS ir_config_parameter (
    id          SERIAL NOT NULL PRIMARY KEY,
    key         varchar NOT NULL,
    value       text NOT NULL,
    create_uid  int4,
    create_date timestamp,
    write_uid   int4,
    write_date  timestamp,
    CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
);
