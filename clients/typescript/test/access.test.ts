/**
 * models_not_readable: events of models the user may not read in Odoo are
 * left out; when the user gains the right, onModelsReadable reloads that
 * model and the client goes on from its position (no other change skipped),
 * or, without that hook, the client resyncs.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { MemoryStore, SyncClient, type SyncClientOptions } from "../src/index.js";
import { fastBackoff, missing, recorder } from "./helpers.js";
import { Stack } from "./stack.js";

// The Odoo tables the server reads rights from (as tests/test_odoo_access.py
// makes them): alice (6) is an employee; employees read partners and
// products, and, once granted below, orders.
const ODOO_TABLES = `
CREATE TABLE res_groups (id serial PRIMARY KEY, name jsonb NOT NULL);
CREATE TABLE res_groups_users_rel (gid int4 NOT NULL, uid int4 NOT NULL, PRIMARY KEY (gid, uid));
CREATE TABLE ir_model (id serial PRIMARY KEY, model varchar NOT NULL UNIQUE);
CREATE TABLE ir_model_access (
    id serial PRIMARY KEY, name varchar NOT NULL, active bool, model_id int4 NOT NULL,
    group_id int4, perm_read bool, perm_write bool, perm_create bool, perm_unlink bool);
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY, name varchar NOT NULL, module varchar NOT NULL,
    model varchar NOT NULL, res_id int4);
CREATE TABLE webhook_tracked_model (id serial PRIMARY KEY, model varchar NOT NULL, active bool);
INSERT INTO res_groups (id, name) VALUES (1, '{"en_US": "Internal User"}'), (2, '{"en_US": "Settings"}');
INSERT INTO ir_model_data (name, module, model, res_id) VALUES
    ('group_user', 'base', 'res.groups', 1), ('group_system', 'base', 'res.groups', 2);
INSERT INTO res_groups_users_rel (gid, uid) VALUES (1, 2), (2, 2), (1, 6), (1, 7);
INSERT INTO ir_model (id, model) VALUES (1, 'res.partner'), (2, 'sale.order'), (3, 'product.template');
INSERT INTO ir_model_access (name, active, model_id, group_id, perm_read) VALUES
    ('partner employee', true, 1, 1, true), ('product everyone', true, 3, NULL, true);
INSERT INTO webhook_tracked_model (model, active) VALUES
    ('res.partner', true), ('sale.order', true), ('product.template', true);
`;
const GRANT_ORDERS = `INSERT INTO ir_model_access (name, active, model_id, group_id, perm_read)
    VALUES ('order employee', true, 2, 1, true)`;
const REVOKE_ORDERS = `DELETE FROM ir_model_access WHERE name = 'order employee'`;

let stack: Stack;
let skip: string | false = false;
before(async () => {
  stack = await Stack.start();
  await stack.sql(ODOO_TABLES);
  const probe = await fetch(`${stack.baseUrl}/api/v2/sync/pull`, {
    method: "POST",
    headers: { "X-Session-Id": stack.sid("alice"), "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: 6, device_id: "probe", app_type: "sales_app" }),
  });
  if (!("models_not_readable" in ((await probe.json()) as object))) skip = "this server has no access rights";
});
after(async () => {
  await stack?.stop();
});

function alice(deviceId: string, overrides: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    baseUrl: stack.baseUrl,
    session: stack.sid("alice"),
    userId: 6,
    deviceId,
    appType: "sales_app",
    store: new MemoryStore(),
    backoff: fastBackoff,
    ...overrides,
  });
}

it("a model becoming readable: onModelsReadable reloads it, and nothing else is skipped", async (t) => {
  if (skip) return t.skip(skip);
  await stack.sql(REVOKE_ORDERS);
  const reloads: string[][] = [];
  const sync = alice("gains-orders", { onModelsReadable: ({ models }) => void reloads.push(models) });
  const got = recorder();
  await sync.syncOnce(got.apply);
  const [hiddenOrder] = await stack.createRecords(1, "sale.order");
  const partners = await stack.createRecords(2, "res.partner");
  await sync.syncOnce(got.apply);
  assert.deepEqual(missing(partners, got.records()), []);
  assert.ok(!got.records().has(hiddenOrder!), "an unreadable model's event is left out");
  assert.deepEqual(reloads, []);

  await stack.sql(GRANT_ORDERS);
  const later = [...(await stack.createRecords(1, "sale.order")), ...(await stack.createRecords(1, "res.partner"))];
  await sync.syncOnce(got.apply);
  assert.deepEqual(reloads, [["sale.order"]], "the model to reload");
  assert.deepEqual(missing(later, got.records()), [], "no change made meanwhile is skipped");
  await sync.syncOnce(got.apply);
  assert.equal(reloads.length, 1, "once");
});

it("without onModelsReadable, gaining a model's read right resyncs", async (t) => {
  if (skip) return t.skip(skip);
  await stack.sql(REVOKE_ORDERS);
  const reasons: string[] = [];
  const sync = alice("resyncs-on-grant", { onResync: ({ reason }) => void reasons.push(reason) });
  await sync.syncOnce(() => undefined);
  await stack.sql(GRANT_ORDERS);
  await stack.createRecords(1, "res.partner");
  await sync.syncOnce(() => undefined);
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /sale\.order/);
  const later = await stack.createRecords(1, "sale.order");
  const got = recorder();
  await sync.syncOnce(got.apply);
  assert.deepEqual([...got.records()], later);
  assert.equal(reasons.length, 1);
});
