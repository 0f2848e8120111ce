import { type Backoff, exponentialBackoff, sleep } from "./backoff.js";
import {
  InvalidRequestError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  ResyncRequiredError,
  SessionExpiredError,
  SubscriptionChangedError,
  SyncError,
  errorForResponse,
} from "./errors.js";
import type { KeyValueStore } from "./stores.js";
import type { DeviceState, PullAnswer, PullBody, ResetAnswer, SyncEvent } from "./types.js";

/** What the client needs of `fetch` (the global one of browsers, React Native and Node 20). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ status: number; text(): Promise<string>; headers?: { get(name: string): string | null } }>;

/** The Odoo session id, or a function returning the current one (called before each request). */
export type SessionSource = string | (() => string | Promise<string>);

/**
 * Applies one batch to the app's local data. The client stores the batch's
 * token only after this resolves, so a batch whose apply did not finish
 * (crash, exception, app killed) comes again. Applying an event twice must
 * be harmless (it is, for "record X changed: fetch it").
 */
export type ApplyBatch = (events: SyncEvent[], answer: PullAnswer) => void | Promise<void>;

export interface ResyncInfo {
  /** The server's reason (`resync_reason`, or the 409 message). */
  reason: string;
  /** The signal of the live() or syncOnce() call that is resyncing, if any. */
  signal: AbortSignal | undefined;
}

export interface SyncClientOptions {
  /** The server, e.g. `https://sync.example.com` (no trailing path). */
  baseUrl: string;
  /** Sent as `X-Session-Id`. */
  session: SessionSource;
  userId: number;
  /** Unique per device (see getOrCreateDeviceId); 1-255 characters. */
  deviceId: string;
  /** `sales_app`, `delivery_app`, `manager_app`, ... */
  appType: string;
  /** Narrows the app type's models; with appType, the device's subscription. */
  modelsFilter?: string[];
  /** Keeps the acknowledged position; must survive restarts for at-least-once delivery. */
  store: KeyValueStore;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Most raw events per pull, 1-500 (default 100). */
  limit?: number;
  /** Prefix of the store keys (default `odoo-sync`); keys also name the user and device. */
  keyPrefix?: string;
  /** How long a request may take beyond its long-poll wait before it counts as lost (default 30 000 ms). */
  timeoutMs?: number;
  /** Delay before each retry in live() (default exponentialBackoff(): 0.5 s doubling to 30 s, jittered). */
  backoff?: Backoff;
  /**
   * Events this device had not acknowledged are gone (archived and deleted,
   * or the database was restored): reload the app's data from Odoo here. The
   * client has already moved the device to the head of the stream (reset
   * with position=head) before calling this, so changes made while you
   * reload come afterwards. If it throws, the call fails and the next one
   * calls it again. Without it, syncOnce()/live() throw ResyncRequiredError.
   */
  onResync?: (info: ResyncInfo) => void | Promise<void>;
  /**
   * Models this device's user may not read in Odoo are listed in an answer's
   * `models_not_readable`, and their events are left out. When a model
   * leaves that list (the user gained the right), its changes made
   * meanwhile were never served: reload that model's data from Odoo here.
   * The client goes on from its position (nothing else is skipped); if this
   * throws, the next call runs it again. Without it, the client resyncs
   * (reset to the head and onResync, reloading everything).
   */
  onModelsReadable?: (info: { models: string[]; signal: AbortSignal | undefined }) => void | Promise<void>;
  /**
   * The server answered 401. Refresh the session here (log in again, update
   * what `session` returns); the request is then tried again. Throw to give
   * up. Without it, syncOnce()/live() throw SessionExpiredError.
   */
  onSessionExpired?: (error: SessionExpiredError) => void | Promise<void>;
  /**
   * The device's stored subscription differs from appType/modelsFilter (409):
   * the client has reset it to the start of the stream and goes on; told here.
   */
  onSubscriptionChanged?: (error: SubscriptionChangedError) => void | Promise<void>;
  /**
   * A device's very first sync (nothing in the store): `"replay"` (default)
   * pulls every event the server still holds, from the start of the stream;
   * `"reload"` calls onResync to load the data from Odoo and then follows the
   * changes from the head only (the better choice when the app can load its
   * data in bulk, or when the server deletes old events).
   */
  firstSync?: "replay" | "reload";
  /** live() hit a retryable error and waits `delayMs` before trying again. */
  onRetry?: (error: SyncError, delayMs: number, attempt: number) => void;
}

export interface SyncOnceOptions {
  signal?: AbortSignal;
}

export interface LiveOptions {
  /** Stops live(): the pending request is aborted, the promise resolves. */
  signal: AbortSignal;
  /** Long-poll window in seconds (default 30, at most 300). */
  wait?: number;
}

export interface SyncSummary {
  /** Pull answers received. */
  pulls: number;
  /** Events handed to apply. */
  events: number;
  /** Resyncs done (onResync calls). */
  resyncs: number;
}

/** What the device does before a pull without a token (kept in the store). */
type Phase = { kind: "start" } | { kind: "resync"; reason: string };

interface StepResult {
  more: boolean;
}

/** Statuses of refusals that happen before the pull's transaction commits: nothing moved. */
const REFUSED_BEFORE_COMMIT = new Set([400, 401, 403, 404, 409, 422]);

class Aborted extends Error {
  constructor() {
    super("aborted");
    this.name = "AbortError";
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Aborted();
}

/**
 * A device's sync with odoo-webhook-server (`/api/v2/sync`).
 *
 * Position: the client keeps the last acknowledged `next_sync_token` in the
 * store and sends it back as `sync_token`; it stores a batch's token only
 * after `apply` resolved, so nothing is ever skipped (at-least-once). Before
 * the first pull of a device (and after a reset) there is no token yet: the
 * first pull then moves the server's position by itself, so until its token
 * is stored the client remembers what it did before it (reset to the start,
 * or the resync) and does that again if that pull's answer was lost or its
 * apply did not finish.
 */
export class SyncClient {
  private readonly options: SyncClientOptions;
  private readonly fetchImpl: FetchLike;
  private readonly backoff: Backoff;
  private readonly tokenKey: string;
  private readonly phaseKey: string;
  private readonly unreadableKey: string;
  private running = false;
  /** The reset before a tokenless pull was done and nothing may have moved since. */
  private preludeDone = false;
  private summary: SyncSummary = { pulls: 0, events: 0, resyncs: 0 };

  constructor(options: SyncClientOptions) {
    if (!options.baseUrl) throw new TypeError("SyncClient: baseUrl is required");
    if (!options.deviceId) throw new TypeError("SyncClient: deviceId is required");
    if (!options.store) throw new TypeError("SyncClient: store is required");
    this.options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    const fetchImpl = options.fetch ?? (globalFetch ? globalFetch.bind(globalThis) : undefined);
    if (!fetchImpl) throw new TypeError("SyncClient: no global fetch; pass options.fetch");
    this.fetchImpl = fetchImpl;
    this.backoff = options.backoff ?? exponentialBackoff();
    const base = `${options.keyPrefix ?? "odoo-sync"}:${options.userId}:${options.deviceId}`;
    this.tokenKey = `${base}:token`;
    this.phaseKey = `${base}:phase`;
    this.unreadableKey = `${base}:unreadable`;
  }

  /**
   * Pulls until the server has nothing more, awaiting `apply` for each batch
   * before acknowledging it (the last pull, empty, acknowledges the last
   * batch). Errors are thrown, not
   * retried (see live() for that); the next call resumes where this one
   * stopped.
   */
  async syncOnce(apply: ApplyBatch, options: SyncOnceOptions = {}): Promise<SyncSummary> {
    return this.exclusive(async () => {
      let more = true;
      while (more) {
        throwIfAborted(options.signal);
        more = (await this.step(apply, 0, options.signal)).more;
      }
    }, options.signal);
  }

  /**
   * Keeps the device in sync until `signal` aborts: pulls with a long poll
   * (`wait`), applies each batch, acknowledges it, and pulls again. Rides
   * out 503s, 429s (waiting at least Retry-After) and network failures with
   * backoff, handles resync, 401 and subscription changes as syncOnce does
   * (through the hooks). Resolves when aborted; rejects on
   * an error that waiting cannot fix (apply or a hook threw, 403, 422, 401
   * without onSessionExpired, resync without onResync).
   */
  async live(apply: ApplyBatch, options: LiveOptions): Promise<SyncSummary> {
    const { signal } = options;
    const wait = options.wait ?? 30;
    if (!(wait >= 0 && wait <= 300)) throw new RangeError("live: wait must be 0-300 seconds");
    return this.exclusive(async () => {
      let attempt = 0;
      while (!signal.aborted) {
        try {
          await this.step(apply, wait, signal);
          attempt = 0;
        } catch (error) {
          if (signal.aborted) return;
          if (!this.retryable(error)) throw error;
          const asked = error instanceof RateLimitedError ? (error.retryAfterMs ?? 0) : 0;
          const delay = Math.max(0, this.backoff(attempt), asked);
          attempt += 1;
          this.options.onRetry?.(error, delay, attempt);
          await sleep(delay, signal);
        }
      }
    }, signal);
  }

  /** The device's state on the server (`GET /api/v2/sync/state`); NotFoundError before its first pull. */
  async state(options: SyncOnceOptions = {}): Promise<DeviceState> {
    const query = this.deviceQuery();
    return (await this.send("GET", `/api/v2/sync/state?${query}`, undefined, 0, options.signal)) as DeviceState;
  }

  /**
   * Moves the device back to the beginning of the stream and forgets the
   * stored token: the next pulls replay every stored event. Not while
   * syncOnce() or live() runs.
   */
  async reset(options: SyncOnceOptions = {}): Promise<ResetAnswer> {
    if (this.running) throw new Error("SyncClient.reset: stop live()/syncOnce() first");
    await this.enterPhase({ kind: "start" });
    const answer = await this.serverReset("start", options.signal);
    this.preludeDone = answer !== undefined;
    if (answer === undefined) throw new NotFoundError("Sync state not found", { status: 404 });
    return answer;
  }

  // ---------------------------------------------------------------- internals

  private async exclusive(body: () => Promise<void>, signal: AbortSignal | undefined): Promise<SyncSummary> {
    if (this.running) throw new Error("SyncClient: syncOnce()/live() is already running");
    this.running = true;
    this.summary = { pulls: 0, events: 0, resyncs: 0 };
    try {
      await body();
    } catch (error) {
      if (!(error instanceof Aborted && signal?.aborted)) throw error;
    } finally {
      this.running = false;
    }
    return this.summary;
  }

  private retryable(error: unknown): error is SyncError {
    if (!(error instanceof SyncError)) return false;
    if (error instanceof SessionExpiredError) return this.options.onSessionExpired !== undefined;
    return error.retryable;
  }

  /** The stored position: a token, or the phase to go through before a tokenless pull. */
  private async position(): Promise<{ token: string | null; phase: Phase }> {
    const storedPhase = await this.options.store.get(this.phaseKey);
    if (storedPhase) {
      let phase: Phase = { kind: "start" };
      try {
        const parsed = JSON.parse(storedPhase) as Phase;
        if (parsed.kind === "resync") phase = { kind: "resync", reason: String(parsed.reason) };
      } catch {
        // unreadable: starting over is always safe
      }
      return { token: null, phase };
    }
    const token = (await this.options.store.get(this.tokenKey)) || null;
    if (token === null && this.options.firstSync === "reload") {
      return { token, phase: { kind: "resync", reason: "first sync of this device" } };
    }
    return { token, phase: { kind: "start" } };
  }

  /** Persist `phase` first, then drop the token (a crash in between leaves the phase in charge). */
  private async enterPhase(phase: Phase): Promise<void> {
    await this.options.store.set(this.phaseKey, JSON.stringify(phase));
    await this.options.store.delete(this.tokenKey);
    this.preludeDone = false;
  }

  private async enterResync(reason: string): Promise<void> {
    await this.enterPhase({ kind: "resync", reason });
    if (!this.options.onResync) throw new ResyncRequiredError(reason);
  }

  /** What must happen before a pull without a token. */
  private async prelude(phase: Phase, signal: AbortSignal | undefined): Promise<void> {
    if (phase.kind === "resync") {
      const onResync = this.options.onResync;
      if (!onResync) throw new ResyncRequiredError(phase.reason);
      // Head first, then reload: what changes during the reload comes after it.
      if ((await this.serverReset("head", signal)) === undefined) {
        // The device has no state yet: a pull makes one (its events are not
        // needed, the reload covers them), then it can move to the head.
        await this.send("POST", "/api/v2/sync/pull", this.pullBody(null, 0, 1), 0, signal);
        await this.serverReset("head", signal);
      }
      await onResync({ reason: phase.reason, signal });
      this.summary.resyncs += 1;
    } else {
      await this.serverReset("start", signal);
    }
  }

  /** One pull, applied and acknowledged. */
  private async step(apply: ApplyBatch, wait: number, signal: AbortSignal | undefined): Promise<StepResult> {
    const { token, phase } = await this.position();
    if (token === null && !this.preludeDone) {
      await this.prelude(phase, signal);
      this.preludeDone = true;
    }
    if (token === null) this.preludeDone = false; // this pull may move the position by itself
    const body = this.pullBody(token, wait, this.options.limit ?? 100);
    let answer: PullAnswer;
    try {
      answer = (await this.send("POST", "/api/v2/sync/pull", body, wait, signal)) as PullAnswer;
    } catch (error) {
      if (token === null && error instanceof SyncError && REFUSED_BEFORE_COMMIT.has(error.status ?? 0)) {
        this.preludeDone = true;
      }
      if (error instanceof SubscriptionChangedError) {
        await this.enterPhase({ kind: "start" });
        await this.options.onSubscriptionChanged?.(error);
        return { more: true };
      }
      if (error instanceof ResyncRequiredError) {
        await this.enterResync(error.reason);
        return { more: true };
      }
      if (error instanceof InvalidRequestError && error.code === "invalid_sync_token") {
        // A token this server cannot read (another database): the position is unknown.
        await this.enterResync(error.message);
        return { more: true };
      }
      throw error;
    }
    this.summary.pulls += 1;
    if (answer.resync_required) {
      await this.enterResync(answer.resync_reason ?? "resync required");
      return { more: true };
    }
    if (answer.events.length > 0) {
      await apply(answer.events, answer);
      this.summary.events += answer.events.length;
    }
    await this.options.store.set(this.tokenKey, answer.next_sync_token);
    if (token === null) await this.options.store.delete(this.phaseKey);
    if (await this.readAccessGained(answer, token !== null, signal)) return { more: true };
    // An answer with events is acknowledged by the next pull: syncOnce makes
    // that one too, so the server knows the device is up to date.
    return { more: answer.has_more || answer.events.length > 0 };
  }

  /**
   * Follows `models_not_readable`. A model that left it had changes the
   * device was never served: onModelsReadable reloads it, or else a resync.
   * The list is stored only after that, so a crash in between does it again.
   * Returns whether a resync was entered.
   */
  private async readAccessGained(
    answer: PullAnswer,
    hadToken: boolean,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const now = [...(answer.models_not_readable ?? [])].sort();
    const raw = await this.options.store.get(this.unreadableKey);
    let before: string[] | null = null;
    try {
      before = raw ? (JSON.parse(raw) as string[]) : null;
    } catch {
      before = null;
    }
    // After a start or a resync (no token) the whole state is fresh: nothing to catch up.
    const gained = hadToken && before ? before.filter((model) => !now.includes(model)) : [];
    let resync = false;
    if (gained.length > 0) {
      if (this.options.onModelsReadable) {
        await this.options.onModelsReadable({ models: gained, signal });
      } else {
        await this.enterPhase({
          kind: "resync",
          reason: `read access gained to ${gained.join(", ")}: their changes made meanwhile were not served`,
        });
        resync = true;
      }
    }
    if (JSON.stringify(before) !== JSON.stringify(now)) {
      await this.options.store.set(this.unreadableKey, JSON.stringify(now));
    }
    if (resync && !this.options.onResync) {
      throw new ResyncRequiredError(`read access gained to ${gained.join(", ")}`);
    }
    return resync;
  }

  private pullBody(token: string | null, wait: number, limit: number): PullBody {
    const body: PullBody = {
      user_id: this.options.userId,
      device_id: this.options.deviceId,
      app_type: this.options.appType,
      limit,
      wait,
    };
    if (this.options.modelsFilter) body.models_filter = this.options.modelsFilter;
    if (token !== null) body.sync_token = token;
    return body;
  }

  /** POST /reset; undefined when the device has no state yet (404). */
  private async serverReset(
    position: "start" | "head",
    signal: AbortSignal | undefined,
  ): Promise<ResetAnswer | undefined> {
    try {
      const path = `/api/v2/sync/reset?${this.deviceQuery()}&position=${position}`;
      return (await this.send("POST", path, undefined, 0, signal)) as ResetAnswer;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private deviceQuery(): string {
    return new URLSearchParams({
      user_id: String(this.options.userId),
      device_id: this.options.deviceId,
    }).toString();
  }

  private async sessionId(): Promise<string> {
    const session = this.options.session;
    return typeof session === "function" ? await session() : session;
  }

  /** A request; on 401 the onSessionExpired hook runs and the request is tried once more. */
  private async send(
    method: string,
    path: string,
    body: unknown,
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    try {
      return await this.sendOnce(method, path, body, waitSeconds, signal);
    } catch (error) {
      const hook = this.options.onSessionExpired;
      if (!(error instanceof SessionExpiredError) || !hook) throw error;
      await hook(error);
      throwIfAborted(signal);
      return await this.sendOnce(method, path, body, waitSeconds, signal);
    }
  }

  private async sendOnce(
    method: string,
    path: string,
    body: unknown,
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    throwIfAborted(signal);
    const headers: Record<string, string> = {
      Accept: "application/json",
      "X-Session-Id": await this.sessionId(),
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timeoutMs = waitSeconds * 1000 + (this.options.timeoutMs ?? 30_000);
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | null | undefined;
    try {
      throwIfAborted(signal);
      const init: Parameters<FetchLike>[1] = { method, headers, signal: controller.signal };
      if (body !== undefined) init.body = JSON.stringify(body);
      const response = await this.fetchImpl(this.options.baseUrl + path, init);
      status = response.status;
      retryAfter = response.headers?.get("Retry-After");
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw new Aborted();
      if (timedOut) throw new NetworkError(`no answer within ${timeoutMs} ms`, { cause: error });
      const message = error instanceof Error ? error.message : String(error);
      throw new NetworkError(`request failed: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (status >= 200 && status < 300) {
      if (parsed === undefined) {
        throw new SyncError(`unreadable answer (HTTP ${status})`, { status, retryable: true });
      }
      return parsed;
    }
    throw errorForResponse(status, parsed, text, retryAfter);
  }
}
