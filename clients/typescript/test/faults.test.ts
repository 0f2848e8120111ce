/**
 * live() rides out lost answers, 503 bursts and a PostgreSQL restart, and
 * every committed event reaches apply.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { MemoryStore, ServerUnavailableError, SyncClient, type SyncClientOptions, type SyncError } from "../src/index.js";
import { fastBackoff, faultyFetch, missing, recorder, waitFor } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

function client(deviceId: string, overrides: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    baseUrl: stack.baseUrl,
    session: stack.sid("admin"),
    userId: 2,
    deviceId,
    appType: "manager_app",
    store: new MemoryStore(),
    limit: 4,
    backoff: fastBackoff,
    ...overrides,
  });
}

async function settle(promise: Promise<unknown>, controller: AbortController): Promise<void> {
  controller.abort();
  await promise;
}

it("lost answers (the server processed the pull, the device never saw it) are served again", async () => {
  const before = await stack.createRecords(10); // waiting when the device starts
  // Lose the first answer (a pull without a token) and every third one after it.
  const { fetch, counters } = faultyFetch({ dropAnswer: (n) => n === 1 || n % 3 === 0 });
  const got = recorder();
  const controller = new AbortController();
  const retries: SyncError[] = [];
  const running = client("lossy", { fetch, onRetry: (error) => retries.push(error) }).live(got.apply, {
    signal: controller.signal,
    wait: 1,
  });
  try {
    const during: number[] = [];
    for (let i = 0; i < 6; i++) {
      during.push(...(await stack.createRecordsAtOnce(3)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const all = [...before, ...during];
    await waitFor(() => missing(all, got.records()).length === 0, "every record despite lost answers");
  } finally {
    await settle(running, controller);
  }
  assert.ok(counters.dropped >= 4, `${counters.dropped} answers dropped`);
  assert.ok(retries.length >= counters.dropped && retries.every((e) => e.name === "NetworkError"));
});

it("503 bursts are waited out with backoff, not hammered", async () => {
  let burst = false;
  const { fetch, counters } = faultyFetch({ unavailable: () => burst });
  const got = recorder();
  const controller = new AbortController();
  const delays: number[] = [];
  const running = client("bursty", {
    fetch,
    onRetry: (error, delay) => {
      assert.ok(error instanceof ServerUnavailableError);
      delays.push(delay);
    },
  }).live(got.apply, { signal: controller.signal, wait: 1 });

  const written: number[] = [];
  try {
    for (const source of ["proxy", "odoo", "proxy"] as const) {
      written.push(...(await stack.createRecords(3)));
      const requestsBefore = counters.requests;
      const retriesBefore = delays.length;
      // A 503 burst of one second: from a proxy in front of the server, or the server's
      // own 503 while Odoo (its session check) is down.
      if (source === "proxy") burst = true;
      else await stack.command("odoo_down", { down: true });
      written.push(...(await stack.createRecords(3)));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const requests = counters.requests - requestsBefore;
      burst = false;
      await stack.command("odoo_down", { down: false });
      const burstDelays = delays.slice(retriesBefore);
      assert.ok(burstDelays.length >= 3, `${source}: ${burstDelays.length} retries in the burst`);
      assert.ok(requests <= 12, `${source}: ${requests} requests in one second of 503s`);
      for (let i = 1; i < burstDelays.length; i++) {
        assert.ok(burstDelays[i]! >= burstDelays[i - 1]!, `growing delays: ${burstDelays.join(", ")}`);
      }
      await waitFor(() => missing(written, got.records()).length === 0, `every record after the ${source} burst`);
    }
  } finally {
    burst = false;
    await stack.command("odoo_down", { down: false });
    await settle(running, controller);
  }
});

it("a PostgreSQL restart is ridden out and nothing committed is lost", async () => {
  const got = recorder();
  const controller = new AbortController();
  const retries: SyncError[] = [];
  const running = client("through-restart", { onRetry: (error) => retries.push(error) }).live(got.apply, {
    signal: controller.signal,
    wait: 1,
  });
  try {
    const written = await stack.createRecords(5);
    await waitFor(() => missing(written, got.records()).length === 0, "records before the restart");
    written.push(...(await stack.createRecords(3))); // maybe not yet pulled when PostgreSQL stops
    await stack.command("pg_stop");
    try {
      await waitFor(() => retries.some((e) => e instanceof ServerUnavailableError), "a 503 while PostgreSQL is down");
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      await stack.command("pg_start");
    }
    written.push(...(await stack.createRecords(5)));
    await waitFor(() => missing(written, got.records()).length === 0, "every record after the restart", 30_000);
  } finally {
    await settle(running, controller);
  }
  assert.ok(retries.length >= 1);
});
