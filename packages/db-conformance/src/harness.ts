/**
 * What every area of the suite shares: the fresh database of the current test and a few
 * helpers over it. `useHarness` registers the hooks that make and free that database, so it
 * is called once, inside the suite's describe, and the areas get the harness it returns.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect } from 'vitest';
import { isRomiError, type BackendCapabilities, type DB, type Fileset, type Scan } from '@romi/db-core';
import { snapshot, type ConformanceContext, type ConformanceFactory, type ConformanceOptions, type Feature } from './context.js';

/**
 * Each test gets a fresh context from the factory, so an area binds the current one in the
 * first hook of its describe (`current()` or `connected()`), before its own setup runs.
 */
export interface Harness {
  /** The context the factory made for the current test. */
  ctx(): ConformanceContext;
  /** The database of the current test (not connected when the test starts). */
  db(): DB;
  /** The current test's context and its database (`ctx.db`). */
  current(): { ctx: ConformanceContext; db: DB };
  /** The same, once the database is connected as the writer. */
  connected(): Promise<{ ctx: ConformanceContext; db: DB }>;
  /** Another DB object over the same storage, not connected; disconnected after the test. */
  open(): Promise<DB>;
  /** A database over other storage, made by the factory and freed after the test (a mirror source). */
  another(): Promise<DB>;
  /** Runs `fn`, expects it to fail with `expected`, and the storage to be unchanged. */
  failsCleanly(expected: string, fn: () => Promise<unknown>): Promise<void>;
  /** The RomiError code a call fails with, 'resolved' when it does not fail. */
  codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined>;
  /** Creates the scan myscan_001 with the fileset fileset_001, both with metadata. */
  fullScan(): Promise<{ scan: Scan; fileset: Fileset }>;
  /** The text of a golden file written by Python. */
  golden(file: string): string;
  /** Why the current backend lacks `feature` (from its capabilities), or undefined when it has it. */
  lacks(feature: Feature): string | undefined;
}

/** How each feature is read from a backend's capabilities, and the reason given when it is missing. */
const FEATURES: Record<Feature, (c: BackendCapabilities) => string | undefined> = {
  localPath: (c) => (c.localPaths ? undefined : 'this backend has no local paths (capabilities.localPaths false)'),
};

/** The code of a RomiError, or a text that names what else was thrown. */
export function code(err: unknown): string | undefined {
  return isRomiError(err) ? err.code : `not a RomiError: ${String(err)}`;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return code(err);
  }
  return 'resolved';
}

export function useHarness(factory: ConformanceFactory, options: ConformanceOptions): Harness {
  const goldenDir = options.goldenDir ?? fileURLToPath(new URL('../../../test-fixtures/golden/', import.meta.url));
  let ctx: ConformanceContext;
  let db: DB;
  const extra: DB[] = [];
  const others: ConformanceContext[] = [];

  beforeEach(async () => {
    ctx = await factory();
    db = ctx.db;
  });
  afterEach(async () => {
    for (const other of extra.splice(0)) await other.disconnect().catch(() => {});
    await db.disconnect().catch(() => {});
    await ctx.dispose?.();
    for (const other of others.splice(0)) {
      await other.db.disconnect().catch(() => {});
      await other.dispose?.();
    }
  });

  const h: Harness = {
    ctx: () => ctx,
    db: () => db,
    current: () => ({ ctx, db }),
    async connected() {
      await db.connect();
      return { ctx, db };
    },
    async open() {
      const other = await ctx.open();
      extra.push(other);
      return other;
    },
    async another() {
      const other = await factory();
      others.push(other);
      return other.db;
    },
    async failsCleanly(expected, fn) {
      // What createFile left to the next index write is stored first: the snapshot is of settled storage.
      await db.reload();
      const before = await snapshot(ctx.backend);
      expect(await codeOf(fn)).toBe(expected);
      expect(await snapshot(ctx.backend)).toEqual(before);
    },
    codeOf,
    async fullScan() {
      const scan = await db.createScan('myscan_001', { metadata: { test: 1 } });
      const fileset = await scan.createFileset('fileset_001', { metadata: { test_fileset: 1 } });
      return { scan, fileset };
    },
    golden: (file) => readFileSync(`${goldenDir}/${file}`, 'utf8'),
    // The `unsupported` option, which came before capabilities, still wins when given.
    lacks: (feature) => options.unsupported?.[feature] ?? FEATURES[feature](ctx.backend.capabilities),
  };
  return h;
}
