/** Milliseconds to wait before retry number `attempt` (0 for the first retry). */
export type Backoff = (attempt: number) => number;

export interface ExponentialBackoffOptions {
  /** First delay (before jitter), default 500 ms. */
  initialMs?: number;
  /** Cap, default 30 000 ms. */
  maxMs?: number;
  /** Random source in [0, 1), default Math.random. */
  random?: () => number;
}

/**
 * Exponential backoff with jitter: the delay doubles from `initialMs` up to
 * `maxMs`, and each one is drawn uniformly from its upper half, so devices
 * that lost the server together do not come back together.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 500;
  const maxMs = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  return (attempt) => {
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    return ceiling / 2 + random() * (ceiling / 2);
  };
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no timer behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
