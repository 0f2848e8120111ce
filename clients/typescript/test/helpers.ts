import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { ApplyBatch, FetchLike, KeyValueStore, SyncEvent } from "../src/index.js";

/** A store in one JSON file, written atomically and synchronously: survives a SIGKILL. */
export class FileStore implements KeyValueStore {
  constructor(readonly path: string) {}

  private read(): Record<string, string> {
    return existsSync(this.path) ? (JSON.parse(readFileSync(this.path, "utf8")) as Record<string, string>) : {};
  }

  private write(values: Record<string, string>): void {
    writeFileSync(`${this.path}.tmp`, JSON.stringify(values));
    renameSync(`${this.path}.tmp`, this.path);
  }

  async get(key: string): Promise<string | null> {
    return this.read()[key] ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    this.write({ ...this.read(), [key]: value });
  }

  async delete(key: string): Promise<void> {
    const values = this.read();
    delete values[key];
    this.write(values);
  }
}

/** An apply that records what it got. */
export function recorder(): { apply: ApplyBatch; events: SyncEvent[]; batches: SyncEvent[][]; records: () => Set<number> } {
  const events: SyncEvent[] = [];
  const batches: SyncEvent[][] = [];
  return {
    events,
    batches,
    apply: (batch) => {
      batches.push(batch);
      events.push(...batch);
    },
    records: () => new Set(events.map((e) => e.record_id)),
  };
}

export function missing(expected: Iterable<number>, got: Set<number>): number[] {
  return [...expected].filter((id) => !got.has(id));
}

export const realFetch: FetchLike = (url, init) => fetch(url, init);

export interface Faults {
  /** Which requests (1-based count of requests to `path`) lose their answer after the server processed them. */
  dropAnswer?: (n: number, url: string) => boolean;
  /** Which requests get a 503 without reaching the server. */
  unavailable?: (n: number, url: string) => boolean;
}

/**
 * fetch with faults: an answer can be lost after the server processed the
 * request (the body is read, then the call fails as a dropped connection
 * does), or a request can get 503 as from a proxy in front of a restarting
 * server. Counts requests to paths containing `path`.
 */
export function faultyFetch(faults: Faults, path = "/api/v2/sync/pull") {
  const counters = { requests: 0, dropped: 0, unavailable: 0, times: [] as number[] };
  const impl: FetchLike = async (url, init) => {
    if (!url.includes(path)) return realFetch(url, init);
    const n = ++counters.requests;
    counters.times.push(Date.now());
    if (faults.unavailable?.(n, url)) {
      counters.unavailable += 1;
      await new Promise((resolve) => setTimeout(resolve, 1)); // as a network round trip does
      return new Response(JSON.stringify({ detail: "unavailable", code: "database_unavailable" }), {
        status: 503,
      });
    }
    const response = await realFetch(url, init);
    if (faults.dropAnswer?.(n, url)) {
      await response.text(); // the server has answered: its work is done
      counters.dropped += 1;
      throw new TypeError("fetch failed (answer dropped by the test)");
    }
    return response;
  };
  return { fetch: impl, counters };
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A quick backoff for tests: 20 ms doubling to 200 ms. */
export const fastBackoff = (attempt: number): number => Math.min(200, 20 * 2 ** attempt);
