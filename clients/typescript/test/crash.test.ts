/**
 * A device killed in the middle of apply loses nothing: the batch it was
 * applying comes again to the next process using the same store, and over
 * the whole stream every record is applied (completed applies only).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { missing } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
let dir: string;
before(async () => {
  stack = await Stack.start();
  dir = mkdtempSync(join(tmpdir(), "sync-client-crash-"));
});
after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const child = fileURLToPath(new URL("./crash-child.js", import.meta.url));

interface Line {
  pid: number;
  batch: number;
  got?: number[];
  applied?: number[];
}

function run(killAt: number): { signal: NodeJS.Signals | null; status: number | null; lines: Line[] } {
  const log = join(dir, "log.jsonl");
  const before = readLog(log).length;
  const result = spawnSync(
    process.execPath,
    [child, stack.baseUrl, stack.sid("admin"), join(dir, "store.json"), log, String(killAt), "5"],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (result.status !== 0 && result.signal !== "SIGKILL") {
    throw new Error(`child failed (${result.status}): ${result.stderr}`);
  }
  return { signal: result.signal, status: result.status, lines: readLog(log).slice(before) };
}

function readLog(path: string): Line[] {
  try {
    return readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line);
  } catch {
    return [];
  }
}

it("a process killed inside apply gets the same batch again after a restart; nothing is skipped", async () => {
  const written = await stack.createRecords(30);

  // 1. Killed while applying its very first batch (no token yet).
  const first = run(1);
  assert.equal(first.signal, "SIGKILL");
  const killedFirst = first.lines.find((l) => l.got)?.got;
  assert.ok(killedFirst && killedFirst.length === 5, JSON.stringify(first.lines));
  assert.equal(first.lines.filter((l) => l.applied).length, 0);

  // 2. The next process starts with that batch; killed inside its third.
  const second = run(3);
  assert.equal(second.signal, "SIGKILL");
  const gotSecond = second.lines.filter((l) => l.got).map((l) => l.got!);
  assert.deepEqual(gotSecond[0], killedFirst, "the batch killed in apply comes again");
  const killedSecond = gotSecond[2];
  assert.ok(killedSecond && killedSecond.length > 0);

  // 3. Runs to the end, starting with the batch killed in (2).
  const third = run(0);
  assert.equal(third.status, 0);
  const gotThird = third.lines.filter((l) => l.got).map((l) => l.got!);
  assert.deepEqual(gotThird[0], killedSecond, "the batch killed in apply comes again");

  // 4. Later changes arrive too, after a clean exit.
  const later = await stack.createRecords(4);
  const fourth = run(0);
  assert.equal(fourth.status, 0);
  assert.deepEqual(fourth.lines.filter((l) => l.got).flatMap((l) => l.got!).sort(), later.sort());

  const applied = new Set(
    [...first.lines, ...second.lines, ...third.lines, ...fourth.lines].flatMap((l) => l.applied ?? []),
  );
  assert.deepEqual(missing([...written, ...later], applied), [], "every record applied");
});
