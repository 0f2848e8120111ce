/**
 * A device app in its own process, for crash.test: syncs with a file-backed
 * store and logs each batch; with --kill-at N it is SIGKILLed inside apply
 * of its Nth batch (after logging that it got it, before apply returns).
 *
 *   node crash-child.js BASE_URL SESSION STORE_PATH LOG_PATH KILL_AT(0 = never) LIMIT
 */
import { appendFileSync } from "node:fs";
import { SyncClient } from "../src/index.js";
import { FileStore } from "./helpers.js";

const [baseUrl, session, storePath, logPath, killAt, limit] = process.argv.slice(2);
let batch = 0;
const client = new SyncClient({
  baseUrl: baseUrl!,
  session: session!,
  userId: 2,
  deviceId: "crashing-phone",
  appType: "manager_app",
  limit: Number(limit),
  store: new FileStore(storePath!),
});
await client.syncOnce(async (events) => {
  batch += 1;
  const ids = events.map((e) => e.record_id);
  appendFileSync(logPath!, JSON.stringify({ pid: process.pid, batch, got: ids }) + "\n");
  await new Promise((resolve) => setTimeout(resolve, 5)); // half-way through applying
  if (batch === Number(killAt)) process.kill(process.pid, "SIGKILL");
  appendFileSync(logPath!, JSON.stringify({ pid: process.pid, batch, applied: ids }) + "\n");
});
