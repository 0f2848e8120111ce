/**
 * For abort.test: runs live() in its own process, aborts it, reports how
 * long the promise took to settle on stdout (one JSON line), and then just
 * returns: the process must exit by itself (no request, socket or timer left).
 *
 *   node abort-child.js long-poll BASE_URL SESSION   abort while a long poll (wait 30) is pending
 *   node abort-child.js backoff   BASE_URL           abort while waiting (backoff 60 s) to retry
 *   node abort-child.js apply     BASE_URL SESSION   abort while apply runs
 */
import { type FetchLike, MemoryStore, SyncClient } from "../src/index.js";

const [mode, baseUrl, session] = process.argv.slice(2);
const controller = new AbortController();
let pending = 0;
let pendingSince = 0;
const fetchImpl: FetchLike = async (url, init) => {
  pending += 1;
  pendingSince = Date.now();
  try {
    return await fetch(url, init);
  } finally {
    pending -= 1;
  }
};
let applying = false;
let applied = false;
let retrying = false;
const store = new MemoryStore();
const client = new SyncClient({
  baseUrl: baseUrl!,
  session: session ?? "none",
  userId: 2,
  deviceId: `abort-${mode}`,
  appType: "manager_app",
  store,
  fetch: fetchImpl,
  backoff: () => 60_000,
  onRetry: () => {
    retrying = true;
  },
});

const running = client.live(
  async () => {
    applying = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
    applied = true;
  },
  { signal: controller.signal, wait: 30 },
);
let outcome = "pending";
running.then(
  () => (outcome = "resolved"),
  (error: unknown) => (outcome = `rejected: ${String(error)}`),
);

const deadline = Date.now() + 20_000;
const ready = (): boolean => {
  if (mode === "long-poll") return pending === 1 && Date.now() - pendingSince > 500;
  if (mode === "backoff") return retrying && pending === 0;
  return applying;
};
while (!ready()) {
  if (Date.now() > deadline || outcome !== "pending") {
    console.log(JSON.stringify({ error: `never ready (${outcome})` }));
    process.exit(2);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const abortedAt = Date.now();
controller.abort();
await running.catch(() => undefined);
console.log(
  JSON.stringify({
    outcome,
    settleMs: Date.now() - abortedAt,
    pendingAfter: pending,
    applied,
    token: (await store.get(`odoo-sync:2:abort-${mode}:token`)) !== null,
    abortedAt,
  }),
);
