/**
 * Where the client keeps its position (the last acknowledged sync_token) and
 * its recovery phase: a small async key-value store. Values are strings.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** In memory: for tests, or an app that replays from the start at each launch. */
export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();

  async get(key: string): Promise<string | null> {
    return this.values.get(key) ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}

/** What LocalStorageStore needs of `window.localStorage` (or sessionStorage). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The browser's `localStorage` (synchronous underneath; writes are durable once set returns). */
export class LocalStorageStore implements KeyValueStore {
  private readonly storage: StorageLike;

  constructor(
    storage?: StorageLike,
    private readonly prefix = "",
  ) {
    const found = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (!found) throw new Error("LocalStorageStore: no localStorage here; pass a Storage object");
    this.storage = found;
  }

  async get(key: string): Promise<string | null> {
    return this.storage.getItem(this.prefix + key);
  }

  async set(key: string, value: string): Promise<void> {
    this.storage.setItem(this.prefix + key, value);
  }

  async delete(key: string): Promise<void> {
    this.storage.removeItem(this.prefix + key);
  }
}
