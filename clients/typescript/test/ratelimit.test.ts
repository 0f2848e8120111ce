/** 429 rate_limited: live() waits at least what Retry-After asks; syncOnce() reports RateLimitedError. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { MemoryStore, RateLimitedError, SyncClient, type SyncError } from "../src/index.js";
import { fastBackoff } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
let skip: string | false = false;
before(async () => {
  stack = await Stack.start({ rate_limit_pull_per_minute: 6 }); // a bucket of 6, one more every 10 s
  if (!stack.info.settings.includes("rate_limit_pull_per_minute")) skip = "this server has no rate limits";
});
after(async () => {
  await stack?.stop();
});

function client(deviceId: string, overrides: Partial<ConstructorParameters<typeof SyncClient>[0]> = {}): SyncClient {
  return new SyncClient({
    baseUrl: stack.baseUrl,
    session: stack.sid("admin"),
    userId: 2,
    deviceId,
    appType: "manager_app",
    store: new MemoryStore(),
    limit: 1,
    backoff: fastBackoff,
    ...overrides,
  });
}

it("syncOnce() past the limit: RateLimitedError with Retry-After", async (t) => {
  if (skip) return t.skip(skip);
  await stack.createRecords(8);
  const error = await client("eager").syncOnce(() => undefined).then(
    () => assert.fail("not rate limited"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RateLimitedError, String(error));
  assert.equal(error.status, 429);
  assert.equal(error.code, "rate_limited");
  assert.ok(error.retryable);
  assert.ok((error.retryAfterMs ?? 0) >= 1000, `Retry-After ${error.retryAfterMs} ms`);
});

it("live() past the limit waits what Retry-After asks, not its own short backoff", async (t) => {
  if (skip) return t.skip(skip);
  await stack.createRecords(8);
  const controller = new AbortController();
  const retries: Array<{ error: SyncError; delay: number }> = [];
  const running = client("patient", {
    session: await stack.command<string>("login", { login: "admin" }), // its own session's bucket
    onRetry: (error, delay) => {
      retries.push({ error, delay });
      controller.abort();
    },
  }).live(() => undefined, { signal: controller.signal, wait: 0 });
  await running;
  assert.equal(retries.length, 1);
  const [{ error, delay }] = retries as [{ error: SyncError; delay: number }];
  assert.ok(error instanceof RateLimitedError);
  assert.ok(error.retryAfterMs !== undefined && delay >= error.retryAfterMs, `waited ${delay} ms`);
  assert.ok(delay > fastBackoff(0));
});
