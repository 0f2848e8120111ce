import type { KeyValueStore } from "./stores.js";

export interface DeviceIdOptions {
  /** Store key (default `odoo-sync:device-id`). */
  key?: string;
  /** Put before the UUID, e.g. `"web-"` or `"android-"` (1-255 characters in all). */
  prefix?: string;
}

/**
 * A stable id for this installation: a random UUID made once and kept in
 * `store`. Call it once at start-up and pass the result as `deviceId`.
 */
export async function getOrCreateDeviceId(
  store: KeyValueStore,
  options: DeviceIdOptions = {},
): Promise<string> {
  const key = options.key ?? "odoo-sync:device-id";
  const existing = await store.get(key);
  if (existing) return existing;
  const id = (options.prefix ?? "") + randomUUID();
  await store.set(key, id);
  return id;
}

export interface CryptoLike {
  randomUUID?: () => string;
  getRandomValues?: <T extends Uint8Array>(array: T) => T;
}

/** `crypto.randomUUID()`, or a v4 UUID from `crypto.getRandomValues()` where only that exists
 * (React Native with react-native-get-random-values). */
export function randomUUID(
  crypto: CryptoLike | undefined = (globalThis as { crypto?: CryptoLike }).crypto,
): string {
  if (crypto?.randomUUID) return crypto.randomUUID();
  if (crypto?.getRandomValues) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new Error(
    "No crypto.randomUUID or crypto.getRandomValues: on React Native, import " +
      "'react-native-get-random-values' first",
  );
}
