import { toKey, type Backend, type DB } from '@romi/db-core';

/** One fresh, isolated database handed to each test. */
export interface ConformanceContext {
  /** A fresh database holding the marker, not connected. */
  db: DB;
  /** Raw access to the storage of `db`. */
  backend: Backend;
  /** Another DB object over the same storage, not connected (persistence, busy tests). */
  open(): DB | Promise<DB>;
  /** Frees what the factory made (temp folders, buckets). */
  dispose?(): Promise<void>;
}

export type ConformanceFactory = () => Promise<ConformanceContext>;

/** Features a backend may lack; a test that needs one is skipped, naming the reason. */
export type Feature = 'localPath';

export interface ConformanceOptions {
  /**
   * Features this backend does not have, with the reason shown when their tests are skipped.
   * @deprecated Not needed: the suite reads `backend.capabilities`. Still honoured when given.
   */
  unsupported?: Partial<Record<Feature, string>>;
  /** Folder of the golden JSON files made by Python (default: the repository's test-fixtures/golden). */
  goldenDir?: string;
  /** Per-test timeout (ms) for slower storage. */
  timeout?: number;
}

/** Keys whose content changes while a writer is connected (lock renewals) and are not data. */
const VOLATILE = /^(lock|lock\/.*)$/;

/** Every key under the root with its bytes (folder markers as ''), for before/after equality. */
export async function snapshot(backend: Backend): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const keys: string[] = [];
  for await (const entry of backend.list('')) {
    if (entry.kind === 'object' && !VOLATILE.test(entry.key)) keys.push(entry.key);
  }
  keys.sort();
  for (const key of keys) {
    out[key] = key.endsWith('/') ? '' : Buffer.from((await backend.get(toKey(key))).bytes).toString('base64');
  }
  return out;
}

export async function text(backend: Backend, key: string): Promise<string> {
  return new TextDecoder().decode((await backend.get(toKey(key))).bytes);
}

export async function putText(backend: Backend, key: string, value: string): Promise<void> {
  await backend.put(toKey(key), new TextEncoder().encode(value));
}

export async function listKeys(backend: Backend, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of backend.list(prefix === '' ? '' : toKey(prefix))) if (entry.kind === 'object' && !entry.key.endsWith('/') && !VOLATILE.test(entry.key)) keys.push(entry.key);
  return keys.sort();
}
