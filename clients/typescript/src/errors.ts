/**
 * Every failure the client reports is a `SyncError`:
 *
 *     SyncError                      status, code, body, retryable
 *     ├── SessionExpiredError        401: the Odoo session is missing, expired or logged out
 *     ├── ForbiddenError             403: someone else's sync state
 *     ├── NotFoundError              404: no sync state yet (state() before the first pull)
 *     ├── ResyncRequiredError        409 resync_required, or `resync_required` in an answer
 *     ├── SubscriptionChangedError   409 subscription_changed
 *     ├── InvalidRequestError        422: `detail` names the field
 *     ├── ServerUnavailableError     502/503/504 (Odoo or PostgreSQL unreachable): retryable
 *     ├── RateLimitedError           429: retryable after `retryAfterMs` (the Retry-After header)
 *     └── NetworkError               no answer (connection failed, dropped, timed out): retryable
 */
import type { ValidationErrorItem } from "./types.js";

export interface SyncErrorOptions {
  status?: number;
  code?: string;
  body?: unknown;
  retryable?: boolean;
  cause?: unknown;
}

export class SyncError extends Error {
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;
  /** The server's `code` (`invalid_session`, `resync_required`, `database_unavailable`, ...). */
  readonly code: string | undefined;
  /** The parsed answer body, when there was one. */
  readonly body: unknown;
  /** Whether trying again later may succeed (`live()` does, with backoff). */
  readonly retryable: boolean;

  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
    this.status = options.status;
    this.code = options.code;
    this.body = options.body;
    this.retryable = options.retryable ?? false;
    if (options.cause !== undefined) {
      (this as { cause?: unknown }).cause = options.cause;
    }
  }
}

export class SessionExpiredError extends SyncError {}
export class ForbiddenError extends SyncError {}
export class NotFoundError extends SyncError {}

export class ResyncRequiredError extends SyncError {
  /** Why the server asks for a resync (its `resync_reason` or 409 message). */
  readonly reason: string;
  constructor(reason: string, options: SyncErrorOptions = {}) {
    super(`Resync required: ${reason}`, { code: "resync_required", ...options });
    this.reason = reason;
  }
}

export class SubscriptionChangedError extends SyncError {}

export class InvalidRequestError extends SyncError {
  /** The 422 answer's `detail`: `[{loc, msg, type, ...}]`. */
  readonly detail: ValidationErrorItem[];
  constructor(message: string, detail: ValidationErrorItem[], options: SyncErrorOptions = {}) {
    super(message, options);
    this.detail = detail;
  }
}

export class ServerUnavailableError extends SyncError {
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

export class RateLimitedError extends SyncError {
  /** How long the server asks to wait (its Retry-After header), if it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined, options: SyncErrorOptions = {}) {
    super(message, { retryable: true, ...options });
    this.retryAfterMs = retryAfterMs;
  }
}

export class NetworkError extends SyncError {
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Retry-After (seconds, or an HTTP date) in milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The error for a non-2xx answer. */
export function errorForResponse(
  status: number,
  body: unknown,
  text: string,
  retryAfter?: string | null,
): SyncError {
  const fields = record(body);
  const code = typeof fields?.code === "string" ? fields.code : undefined;
  const detail = fields?.detail;
  const message =
    typeof detail === "string" ? detail : `HTTP ${status}${text && !fields ? `: ${text.slice(0, 200)}` : ""}`;
  const options = { status, code, body };
  switch (status) {
    case 401:
      return new SessionExpiredError(message, options);
    case 403:
      return new ForbiddenError(message, options);
    case 404:
      return new NotFoundError(message, options);
    case 409:
      if (code === "resync_required" || fields?.resync_required === true) {
        return new ResyncRequiredError(message, options);
      }
      if (code === "subscription_changed") return new SubscriptionChangedError(message, options);
      return new SyncError(message, options);
    case 422: {
      const items = Array.isArray(detail) ? (detail as ValidationErrorItem[]) : [];
      const summary = items
        .map((item) => `${Array.isArray(item.loc) ? item.loc.join(".") : "?"}: ${item.msg}`)
        .join("; ");
      return new InvalidRequestError(summary || message, items, {
        ...options,
        code: code ?? items[0]?.type,
      });
    }
    case 429:
      return new RateLimitedError(message, parseRetryAfter(retryAfter), options);
    case 502:
    case 503:
    case 504:
      return new ServerUnavailableError(message, options);
    default:
      return new SyncError(message, { ...options, retryable: status >= 500 });
  }
}
