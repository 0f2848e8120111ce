/** 401 reaches onSessionExpired, which may refresh the session; without it, live() stops with SessionExpiredError. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { MemoryStore, SessionExpiredError, SyncClient } from "../src/index.js";
import { fastBackoff, missing, recorder, waitFor } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

it("a logged-out session: onSessionExpired logs in again and live() goes on", async () => {
  let sid = await stack.command<string>("login", { login: "alice" });
  const expired: SessionExpiredError[] = [];
  const got = recorder();
  const controller = new AbortController();
  const sync = new SyncClient({
    baseUrl: stack.baseUrl,
    session: async () => sid,
    userId: stack.uid("alice"),
    deviceId: "alice-phone",
    appType: "sales_app",
    store: new MemoryStore(),
    backoff: fastBackoff,
    onSessionExpired: async (error) => {
      expired.push(error);
      sid = await stack.command<string>("login", { login: "alice" });
    },
  });
  const running = sync.live(got.apply, { signal: controller.signal, wait: 1 });
  const before = await stack.createRecords(2);
  await waitFor(() => missing(before, got.records()).length === 0, "records before the logout");
  try {
    await stack.command("logout", { sid });
    await waitFor(() => expired.length === 1, "onSessionExpired");
    const afterLogin = await stack.createRecords(2);
    await waitFor(() => missing(afterLogin, got.records()).length === 0, "records after the new login");
  } finally {
    controller.abort();
    await running;
  }
  assert.equal(expired.length, 1);
  assert.equal(expired[0]!.status, 401);
  assert.equal(expired[0]!.code, "invalid_session");
});

it("without onSessionExpired, live() rejects with SessionExpiredError", async () => {
  const sid = await stack.command<string>("login", { login: "alice" });
  const sync = new SyncClient({
    baseUrl: stack.baseUrl,
    session: sid,
    userId: stack.uid("alice"),
    deviceId: "alice-tablet",
    appType: "sales_app",
    store: new MemoryStore(),
    backoff: fastBackoff,
  });
  const controller = new AbortController();
  const running = sync.live(() => undefined, { signal: controller.signal, wait: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await stack.command("logout", { sid });
  await assert.rejects(running, SessionExpiredError);
  controller.abort();
});

it("an onSessionExpired that throws stops live() with its error", async () => {
  const sync = new SyncClient({
    baseUrl: stack.baseUrl,
    session: "never-valid",
    userId: 2,
    deviceId: "gives-up",
    appType: "manager_app",
    store: new MemoryStore(),
    backoff: fastBackoff,
    onSessionExpired: () => {
      throw new Error("user logged out");
    },
  });
  await assert.rejects(sync.live(() => undefined, { signal: AbortSignal.timeout(10_000) }), /user logged out/);
});
