import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ForbiddenError,
  InvalidRequestError,
  LocalStorageStore,
  MemoryStore,
  NotFoundError,
  ServerUnavailableError,
  SessionExpiredError,
  SyncClient,
  type SyncClientOptions,
  exponentialBackoff,
  getOrCreateDeviceId,
  randomUUID,
} from "../src/index.js";
import { missing, recorder } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

function client(overrides: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    baseUrl: stack.baseUrl,
    session: stack.sid("admin"),
    userId: 2,
    deviceId: `device-${randomUUID()}`,
    appType: "manager_app",
    store: new MemoryStore(),
    ...overrides,
  });
}

describe("syncOnce", () => {
  it("delivers every event over several pages, acknowledging each batch only after apply", async () => {
    const written = await stack.createRecords(10);
    const store = new MemoryStore();
    const deviceId = "pager";
    const sync = client({ store, deviceId, limit: 3 });
    const tokensSeenInApply: Array<string | null> = [];
    const got = recorder();
    const summary = await sync.syncOnce(async (events, answer) => {
      tokensSeenInApply.push(await store.get(`odoo-sync:2:${deviceId}:token`));
      assert.notEqual(tokensSeenInApply.at(-1), answer.next_sync_token);
      await got.apply(events, answer);
    });
    assert.deepEqual(missing(written, got.records()), []);
    assert.ok(got.batches.length >= 4, `${got.batches.length} batches of at most 3`);
    assert.ok(got.batches.every((batch) => batch.length <= 3));
    assert.equal(summary.events, got.events.length);
    assert.equal(tokensSeenInApply[0], null, "no token before the first batch is applied");
    const stored = await store.get(`odoo-sync:2:${deviceId}:token`);
    assert.match(stored ?? "", /^v2\./);

    const state = await sync.state();
    assert.equal(state.device_id, deviceId);
    assert.equal(state.last_event_id, Math.max(...got.events.map((e) => e.id)));

    const again = recorder();
    assert.equal((await sync.syncOnce(again.apply)).events, 0);
    assert.equal(again.events.length, 0);
  });

  it("typed events: create, write with changed_fields, unlink", async () => {
    const sync = client({ appType: "sales_app", modelsFilter: ["res.partner"] });
    await sync.syncOnce(() => undefined);
    await stack.write([["res.partner", 1, "create"], ["sale.order", 1, "create"]]);
    await stack.write([["res.partner", 2, "write", ["name", "email"]]]);
    await stack.write([["res.partner", 3, "unlink"]]);
    const got = recorder();
    await sync.syncOnce(got.apply);
    assert.deepEqual(
      got.events.map((e) => [e.model, e.record_id, e.event, e.changed_fields]),
      [
        ["res.partner", 1, "create", null],
        ["res.partner", 2, "write", ["name", "email"]],
        ["res.partner", 3, "unlink", null],
      ],
    );
    for (const event of got.events) {
      assert.equal(typeof event.id, "number");
      assert.match(event.timestamp, /Z$/);
      assert.equal(event.user_id, 2);
    }
  });

  it("reset() replays the stream from the start", async () => {
    const sync = client();
    const first = recorder();
    await sync.syncOnce(first.apply);
    assert.ok(first.events.length > 0);
    const answer = await sync.reset();
    assert.equal(answer.status, "success");
    const replay = recorder();
    await sync.syncOnce(replay.apply);
    assert.deepEqual(missing(first.records(), replay.records()), []);
  });

  it("a changed subscription (409 subscription_changed) resets the device and goes on", async () => {
    const store = new MemoryStore();
    const deviceId = "changing";
    const partners = recorder();
    await client({ store, deviceId, appType: "sales_app", modelsFilter: ["res.partner"] }).syncOnce(partners.apply);
    assert.ok(partners.events.every((e) => e.model === "res.partner"));
    const orders = await stack.createRecords(2, "sale.order");
    const changes: string[] = [];
    const narrowed = client({
      store,
      deviceId,
      appType: "sales_app",
      modelsFilter: ["sale.order"],
      onSubscriptionChanged: (error) => {
        changes.push(error.code ?? "");
      },
    });
    const got = recorder();
    await narrowed.syncOnce(got.apply);
    assert.deepEqual(changes, ["subscription_changed"]);
    assert.ok(got.events.every((e) => e.model === "sale.order"));
    assert.deepEqual(missing(orders, got.records()), []);
    assert.deepEqual((await narrowed.state()).models_filter, ["sale.order"]);
  });
});

describe("typed errors", () => {
  it("NotFoundError: state() before the first pull", async () => {
    await assert.rejects(client().state(), NotFoundError);
  });

  it("InvalidRequestError carries the 422 detail (unknown app type lists the valid ones)", async () => {
    const error = await client({ appType: "no_such_app" }).syncOnce(() => undefined).then(
      () => assert.fail("accepted"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof InvalidRequestError, String(error));
    assert.equal(error.status, 422);
    assert.deepEqual(error.detail[0]?.loc, ["body", "app_type"]);
    assert.ok(Array.isArray(error.detail[0]?.valid) && error.detail[0].valid.includes("sales_app"));
    assert.match(error.message, /app_type/);
  });

  it("InvalidRequestError: models outside the app type", async () => {
    await assert.rejects(
      client({ appType: "delivery_app", modelsFilter: ["sale.order"] }).syncOnce(() => undefined),
      (e: unknown) => e instanceof InvalidRequestError && e.code === "models_outside_app_type",
    );
  });

  it("ForbiddenError: someone else's state", async () => {
    await assert.rejects(
      client({ session: stack.sid("alice"), userId: stack.uid("bob"), appType: "delivery_app" }).syncOnce(
        () => undefined,
      ),
      (e: unknown) => e instanceof ForbiddenError && e.status === 403,
    );
  });

  it("SessionExpiredError: an unknown session, without onSessionExpired", async () => {
    await assert.rejects(
      client({ session: "not-a-session" }).syncOnce(() => undefined),
      (e: unknown) => e instanceof SessionExpiredError && e.code === "invalid_session",
    );
  });

  it("ServerUnavailableError: Odoo down gives 503; syncOnce does not retry", async () => {
    await stack.command("odoo_down", { down: true });
    try {
      await assert.rejects(
        client().syncOnce(() => undefined),
        (e: unknown) => e instanceof ServerUnavailableError && e.code === "odoo_unavailable" && e.retryable,
      );
    } finally {
      await stack.command("odoo_down", { down: false });
    }
  });
});

describe("stores, device id, backoff", () => {
  it("getOrCreateDeviceId makes one UUID per store and keeps it", async () => {
    const store = new MemoryStore();
    const id = await getOrCreateDeviceId(store, { prefix: "web-" });
    assert.match(id, /^web-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await getOrCreateDeviceId(store, { prefix: "web-" }), id);
    assert.notEqual(await getOrCreateDeviceId(new MemoryStore()), id);
  });

  it("randomUUID falls back to getRandomValues (React Native polyfill)", () => {
    const id = randomUUID({ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) });
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.throws(() => randomUUID({}), /react-native-get-random-values/);
  });

  it("LocalStorageStore reads and writes a Storage, with a prefix", async () => {
    const values = new Map<string, string>();
    const storage = {
      getItem: (k: string) => values.get(k) ?? null,
      setItem: (k: string, v: string) => void values.set(k, v),
      removeItem: (k: string) => void values.delete(k),
    };
    const store = new LocalStorageStore(storage, "app:");
    assert.equal(await store.get("a"), null);
    await store.set("a", "1");
    assert.deepEqual([...values], [["app:a", "1"]]);
    assert.equal(await store.get("a"), "1");
    await store.delete("a");
    assert.equal(values.size, 0);
    assert.throws(() => new LocalStorageStore(), /no localStorage/);
  });

  it("exponentialBackoff doubles, jitters within the upper half, and is capped", () => {
    const low = exponentialBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    const high = exponentialBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map(low), [50, 100, 200, 400, 500, 500, 500]);
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((n) => Math.round(high(n))), [100, 200, 400, 800, 1000, 1000, 1000]);
  });
});
