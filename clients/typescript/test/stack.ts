/**
 * Starts test/stack.py (the real server, a real PostgreSQL, the Odoo
 * stand-in) and drives it: writes events, archives, logs out, stops and
 * starts PostgreSQL. PYTHON overrides the interpreter (default: the repo's
 * .venv); STACK_LOG=1 shows the stack's own log.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The package root (this file runs from dist-test/test/). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const python = process.env.PYTHON || join(packageRoot, "..", "..", ".venv", "bin", "python");

export interface StackInfo {
  base_url: string;
  database_url: string;
  odoo_url: string;
  sessions: Record<string, string>;
  users: Record<string, number>;
  postgres: "owned" | "shared";
  /** The server's Settings fields (to skip a test of a setting this server lacks). */
  settings: string[];
}

/** [model, record_id, event, changed_fields?] */
export type Change = [string, number, "create" | "write" | "unlink", string[]?];

export class Stack {
  private readonly pending: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  private log = "";
  private exited = false;
  private nextRecord = 1000;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly info: StackInfo,
    lines: AsyncIterator<string>,
  ) {
    void (async () => {
      for (;;) {
        const line = await lines.next();
        if (line.done) break;
        const waiter = this.pending.shift();
        const message = JSON.parse(line.value) as { ok: boolean; result?: unknown; error?: string };
        if (!waiter) continue;
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`stack: ${message.error}`));
      }
    })();
  }

  /** `settings`: server Settings fields to override (rate limits are off by default). */
  static async start(settings: Record<string, unknown> = {}): Promise<Stack> {
    const child = spawn(python, [join(packageRoot, "test", "stack.py")], {
      cwd: packageRoot,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1", STACK_SETTINGS: JSON.stringify(settings) },
    });
    let log = "";
    child.stderr.on("data", (chunk: Buffer) => {
      if (process.env.STACK_LOG) process.stderr.write(chunk);
      log = (log + chunk.toString()).slice(-20_000);
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = new Promise<never>((_, reject) => {
      child.once("exit", (code) => reject(new Error(`stack.py exited (${code}) before starting:\n${log}`)));
      child.once("error", reject);
    });
    const first = await Promise.race([lines.next(), exited]);
    if (first.done) throw new Error(`stack.py printed nothing:\n${log}`);
    const stack = new Stack(child, JSON.parse(first.value) as StackInfo, lines);
    child.stderr.on("data", (chunk: Buffer) => {
      stack.log = (stack.log + chunk.toString()).slice(-20_000);
    });
    child.once("exit", (code) => {
      stack.exited = true;
      for (const waiter of stack.pending.splice(0)) {
        waiter.reject(new Error(`stack.py exited (${code}):\n${stack.log}`));
      }
    });
    return stack;
  }

  get baseUrl(): string {
    return this.info.base_url;
  }

  sid(login: string): string {
    const sid = this.info.sessions[login];
    if (!sid) throw new Error(`no session for ${login}`);
    return sid;
  }

  uid(login: string): number {
    const uid = this.info.users[login];
    if (uid === undefined) throw new Error(`no user ${login}`);
    return uid;
  }

  command<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`stack.py has exited:\n${this.log}`));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin.write(JSON.stringify({ cmd, ...args }) + "\n");
    });
  }

  /** One committed transaction; returns the event ids. */
  write(changes: Change[], options: { userId?: number; daysAgo?: number } = {}): Promise<number[]> {
    return this.command<number[]>("write", {
      changes,
      user_id: options.userId ?? 2,
      days_ago: options.daysAgo ?? 0,
    });
  }

  /** `count` creates of new records of `model`, in one transaction each; returns their record ids. */
  async createRecords(count: number, model = "res.partner"): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextRecord++;
      await this.write([[model, id, "create"]]);
      ids.push(id);
    }
    return ids;
  }

  /** `count` creates of new records in one transaction; returns their record ids. */
  async createRecordsAtOnce(count: number, model = "res.partner"): Promise<number[]> {
    const ids = Array.from({ length: count }, () => this.nextRecord++);
    await this.write(ids.map((id): Change => [model, id, "create"]));
    return ids;
  }

  sql<T = unknown[]>(statement: string, params: unknown[] = []): Promise<T[]> {
    return this.command<T[]>("sql", { statement, params });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await done;
    clearTimeout(timer);
  }
}
