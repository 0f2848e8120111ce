/**
 * Aborting live() ends it at once, leaving nothing behind: each case runs in
 * its own Node process, which must then exit by itself (a pending request,
 * socket or timer would keep it alive).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

const child = fileURLToPath(new URL("./abort-child.js", import.meta.url));

interface Report {
  outcome: string;
  settleMs: number;
  pendingAfter: number;
  applied: boolean;
  token: boolean;
  abortedAt: number;
}

async function run(args: string[]): Promise<{ report: Report; exitMs: number; code: number | null }> {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const killer = setTimeout(() => proc.kill("SIGKILL"), 40_000);
  const code = await new Promise<number | null>((resolve) => proc.once("exit", (c) => resolve(c)));
  const exitedAt = Date.now();
  clearTimeout(killer);
  assert.equal(code, 0, `child exited ${code}: ${out}${err}`);
  const report = JSON.parse(out.trim().split("\n").pop()!) as Report;
  return { report, exitMs: exitedAt - report.abortedAt, code };
}

it("abort during a long poll: live() resolves at once, the request is gone, the process exits by itself", async (t) => {
  const { report, exitMs } = await run(["long-poll", stack.baseUrl, stack.sid("admin")]);
  t.diagnostic(`settled ${report.settleMs} ms and exited ${exitMs} ms after the abort`);
  assert.equal(report.outcome, "resolved");
  assert.ok(report.settleMs < 200, `settled in ${report.settleMs} ms`);
  assert.equal(report.pendingAfter, 0);
  assert.ok(exitMs < 2000, `process exited ${exitMs} ms after the abort (the long poll had 30 s to go)`);
});

it("abort during a backoff wait (60 s): live() resolves at once and no timer is left", async (t) => {
  // A port nobody listens on: every request fails, live() waits 60 s before retrying.
  const { report, exitMs } = await run(["backoff", "http://127.0.0.1:9"]);
  t.diagnostic(`settled ${report.settleMs} ms and exited ${exitMs} ms after the abort`);
  assert.equal(report.outcome, "resolved");
  assert.ok(report.settleMs < 200, `settled in ${report.settleMs} ms`);
  assert.ok(exitMs < 2000, `process exited ${exitMs} ms after the abort`);
});

it("abort during apply: the batch is finished and acknowledged, then live() resolves", async (t) => {
  await stack.createRecords(2);
  const { report, exitMs } = await run(["apply", stack.baseUrl, stack.sid("admin")]);
  t.diagnostic(`settled ${report.settleMs} ms and exited ${exitMs} ms after the abort`);
  assert.equal(report.outcome, "resolved");
  assert.equal(report.applied, true);
  assert.equal(report.token, true, "the applied batch's token was stored");
  assert.ok(exitMs < 2000, `process exited ${exitMs} ms after the abort`);
});
