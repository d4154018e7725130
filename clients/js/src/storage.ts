/**
 * Where the client persists what must outlive the page: the refresh token
 * (the access token lives in memory only) and, for the code flow, the state,
 * nonce and PKCE verifier between the redirect and the callback.
 *
 * An app picks the persistence it wants: memoryStorage() (the default: the
 * session ends with the page), localStorageStorage() (the session survives
 * reloads and is shared by the tabs of the origin), or its own
 * implementation (e.g. an encrypted IndexedDB store, or React Native's
 * secure storage). Methods may return promises.
 */
export interface TokenStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** memoryStorage keeps values in this page's memory only. */
export function memoryStorage(): TokenStorage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  };
}

/** The subset of the Web Storage interface the client uses. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * localStorageStorage persists in window.localStorage (or the Web Storage
 * object given), shared by every tab of the origin. Anything script on the
 * origin runs can read it: use it only where the app's CSP keeps foreign
 * script out.
 *
 * It does not suit several tabs that refresh: browsers keep a copy of
 * localStorage in each renderer process and bring the copies up to date
 * asynchronously, so a tab can read a refresh token that another tab
 * rotated a moment ago even after that tab released the lock. latch's
 * retry grace window (LATCH_REFRESH_GRACE) usually absorbs that, but not
 * always. For tabs, use indexedDBStorage().
 */
export function localStorageStorage(store?: WebStorageLike): TokenStorage {
  const s = store ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
  if (!s) throw new TypeError("latch: localStorage is not available here");
  return s;
}

/**
 * sessionStorageStorage persists in window.sessionStorage: per tab, kept
 * across the redirect to latch and back. The code flow keeps its state
 * there by default.
 */
export function sessionStorageStorage(store?: WebStorageLike): TokenStorage {
  const s = store ?? (globalThis as { sessionStorage?: WebStorageLike }).sessionStorage;
  if (!s) throw new TypeError("latch: sessionStorage is not available here");
  return s;
}

/** Options of indexedDBStorage. */
export interface IndexedDBStorageOptions {
  /** Database name. Default `latch`. */
  name?: string;
  /** The IDBFactory. Default globalThis.indexedDB. */
  factory?: IDBFactory;
}

/**
 * indexedDBStorage persists in IndexedDB: shared by the origin's tabs and,
 * unlike localStorage, coherent between them. A write has committed when
 * setItem resolves, and a tab that reads after that (the next holder of
 * the refresh lock) sees it. The choice for apps open in several tabs.
 */
export function indexedDBStorage(options: IndexedDBStorageOptions = {}): TokenStorage {
  const name = options.name ?? "latch";
  const storeName = "kv";
  let db: Promise<IDBDatabase> | null = null;
  const open = (): Promise<IDBDatabase> =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = options.factory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!factory) {
        reject(new TypeError("latch: IndexedDB is not available here"));
        return;
      }
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(storeName);
      };
      req.onsuccess = () => {
        const d = req.result;
        // Let a newer version of the app upgrade the database.
        d.onversionchange = () => {
          d.close();
          db = null;
        };
        resolve(d);
      };
      req.onerror = () => reject(req.error);
    }).catch((e: unknown) => {
      db = null;
      throw e;
    }));
  const run = async (mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<unknown> => {
    const d = await open();
    return new Promise((resolve, reject) => {
      const tx = d.transaction(storeName, mode);
      const req = fn(tx.objectStore(storeName));
      // Resolve on commit, not on the request's success: only then do
      // other tabs see a write.
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("latch: IndexedDB transaction aborted"));
    });
  };
  return {
    getItem: async (k) => {
      const v = await run("readonly", (s) => s.get(k));
      return typeof v === "string" ? v : null;
    },
    setItem: async (k, v) => {
      await run("readwrite", (s) => s.put(v, k));
    },
    removeItem: async (k) => {
      await run("readwrite", (s) => s.delete(k));
    },
  };
}
