export {
  SyncClient,
  type ApplyBatch,
  type FetchLike,
  type LiveOptions,
  type ResyncInfo,
  type SessionSource,
  type SyncClientOptions,
  type SyncOnceOptions,
  type SyncSummary,
} from "./client.js";
export {
  ForbiddenError,
  InvalidRequestError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  ResyncRequiredError,
  ServerUnavailableError,
  SessionExpiredError,
  SubscriptionChangedError,
  SyncError,
  type SyncErrorOptions,
} from "./errors.js";
export { LocalStorageStore, MemoryStore, type KeyValueStore, type StorageLike } from "./stores.js";
export { getOrCreateDeviceId, randomUUID, type CryptoLike, type DeviceIdOptions } from "./device.js";
export { exponentialBackoff, sleep, type Backoff, type ExponentialBackoffOptions } from "./backoff.js";
export type { DeviceState, PullAnswer, PullBody, ResetAnswer, SyncEvent, ValidationErrorItem } from "./types.js";
export type { components, paths } from "./openapi.js";
