/**
 * resync_required (events deleted before the device acknowledged them, or a
 * token the device's state no longer matches) reaches onResync; the client
 * has moved the device to the head first, so what changes during the reload
 * comes afterwards, and it goes on from there.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import {
  type FetchLike,
  MemoryStore,
  ResyncRequiredError,
  SyncClient,
  type SyncClientOptions,
} from "../src/index.js";
import { fastBackoff, missing, realFetch, recorder, waitFor } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

/** fetch that notes each request as "pull" or "reset:<position>", and the hook calls in between. */
function tracing(): { fetch: FetchLike; trace: string[] } {
  const trace: string[] = [];
  return {
    trace,
    fetch: (url, init) => {
      const { pathname, searchParams } = new URL(url);
      trace.push(pathname.endsWith("/reset") ? `reset:${searchParams.get("position")}` : pathname.split("/").pop()!);
      return realFetch(url, init);
    },
  };
}

function client(deviceId: string, overrides: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    baseUrl: stack.baseUrl,
    session: stack.sid("admin"),
    userId: 2,
    deviceId,
    appType: "manager_app",
    store: new MemoryStore(),
    backoff: fastBackoff,
    ...overrides,
  });
}

/** Makes `deviceId` (up to date) miss an event that archiving then deletes. */
async function loseAnEventFor(sync: SyncClient): Promise<number> {
  await sync.syncOnce(() => undefined);
  const [lost] = await stack.write([["res.partner", 990_000 + Math.floor(Math.random() * 9999), "create"]], {
    daysAgo: 95,
  });
  const summary = await stack.command<{ deleted: number }>("archive");
  assert.ok(summary.deleted >= 1, JSON.stringify(summary));
  assert.deepEqual(await stack.sql("SELECT id FROM update_webhook WHERE id = %s", [lost]), []);
  return lost!;
}

it("after archiving deleted unacknowledged events: reset to head, onResync, then on from the head", async () => {
  const store = new MemoryStore();
  const { fetch, trace } = tracing();
  const reasons: string[] = [];
  let duringReload: number[] = [];
  const sync = client("lagging", {
    store,
    fetch,
    onResync: async ({ reason }) => {
      trace.push("onResync");
      reasons.push(reason);
      // The app reloads from Odoo; meanwhile someone changes a record.
      duringReload = await stack.createRecords(1);
    },
  });
  await stack.createRecords(3);
  await loseAnEventFor(sync);
  trace.length = 0;

  const got = recorder();
  const summary = await sync.syncOnce(got.apply);
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /res\.partner/);
  assert.equal(summary.resyncs, 1);
  assert.deepEqual(trace.slice(0, 4), ["pull", "reset:head", "onResync", "pull"]);
  assert.deepEqual(missing(duringReload, got.records()), [], "a change made during the reload comes after it");

  const later = await stack.createRecords(2);
  const next = recorder();
  await sync.syncOnce(next.apply);
  assert.deepEqual([...next.records()].sort(), later.sort());
  assert.equal(reasons.length, 1, "no second resync");
});

it("409 resync_required (the device was reset elsewhere, its token is stale) reaches onResync in live()", async () => {
  let resyncs = 0;
  const got = recorder();
  const controller = new AbortController();
  const sync = client("reset-elsewhere", {
    onResync: () => {
      resyncs += 1;
    },
  });
  const running = sync.live(got.apply, { signal: controller.signal, wait: 1 });
  try {
    const first = await stack.createRecords(3);
    await waitFor(() => missing(first, got.records()).length === 0, "first records");
    const before = resyncs;
    // Another installation with the same device id (or an administrator) resets it.
    const reset = await fetch(`${stack.baseUrl}/api/v2/sync/reset?user_id=2&device_id=reset-elsewhere&position=start`, {
      method: "POST",
      headers: { "X-Session-Id": stack.sid("admin") },
    });
    assert.equal(reset.status, 200);
    await stack.createRecords(1); // wakes the long poll, which then finds its token stale
    await waitFor(() => resyncs === before + 1, "onResync");
    const later = await stack.createRecords(3);
    await waitFor(() => missing(later, got.records()).length === 0, "the records after the resync");
  } finally {
    controller.abort();
    await running;
  }
});

it("without onResync: ResyncRequiredError, and the next client on the same store resyncs first", async () => {
  const store = new MemoryStore();
  const sync = client("no-hook", { store });
  await loseAnEventFor(sync);
  await assert.rejects(sync.syncOnce(() => undefined), (e: unknown) => e instanceof ResyncRequiredError && /res\.partner/.test(e.reason));

  const { fetch, trace } = tracing();
  const reasons: string[] = [];
  const withHook = client("no-hook", {
    store,
    fetch,
    onResync: ({ reason }) => {
      trace.push("onResync");
      reasons.push(reason);
    },
  });
  await withHook.syncOnce(() => undefined);
  assert.deepEqual(trace.slice(0, 3), ["reset:head", "onResync", "pull"], "resyncs before pulling");
  assert.match(reasons[0]!, /res\.partner/);
});

it("an onResync that throws fails the call, and the next call runs it again", async () => {
  let calls = 0;
  let failNext = false;
  const sync = client("failing-reload", {
    onResync: () => {
      calls += 1;
      if (failNext) {
        failNext = false;
        throw new Error("Odoo unreachable during the reload");
      }
    },
  });
  await loseAnEventFor(sync);
  calls = 0;
  failNext = true;
  await assert.rejects(sync.syncOnce(() => undefined), /Odoo unreachable/);
  assert.equal(calls, 1);
  await sync.syncOnce(() => undefined);
  assert.equal(calls, 2);
  const later = await stack.createRecords(1);
  const got = recorder();
  await sync.syncOnce(got.apply);
  assert.deepEqual([...got.records()], later);
  assert.equal(calls, 2);
});

it("firstSync: 'reload': a new device loads from Odoo (onResync) and then follows from the head", async () => {
  const old = await stack.createRecords(3);
  const { fetch, trace } = tracing();
  let duringReload: number[] = [];
  const sync = client("reloading-first", {
    fetch,
    firstSync: "reload",
    onResync: async ({ reason }) => {
      trace.push("onResync");
      assert.match(reason, /first sync/);
      duringReload = await stack.createRecords(1);
    },
  });
  const got = recorder();
  const summary = await sync.syncOnce(got.apply);
  assert.deepEqual(trace.slice(0, 5), ["reset:head", "pull", "reset:head", "onResync", "pull"]);
  assert.equal(summary.resyncs, 1);
  assert.deepEqual(missing(old, got.records()), old, "older records come from the reload, not the stream");
  assert.deepEqual(missing(duringReload, got.records()), [], "a change made during the reload comes after it");
  const later = await stack.createRecords(2);
  const next = recorder();
  await sync.syncOnce(next.apply);
  assert.deepEqual([...next.records()].sort(), later.sort());
  assert.equal(trace.filter((x) => x === "onResync").length, 1);
});
