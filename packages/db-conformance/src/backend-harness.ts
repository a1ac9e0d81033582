/**
 * What every area of the Backend suite shares: the fresh, empty Backend of the current test, other
 * objects over the same storage, and helpers to write, read and compare raw storage.
 */
import { afterEach, beforeEach, expect, it, type TestFunction } from 'vitest';
import { toKey, type Backend, type Key, type ListOptions } from '@romi/db-core';
import { code } from './harness.js';

/** One fresh, empty Backend handed to each test. */
export interface BackendContext {
  backend: Backend;
  /**
   * Another Backend object over the same storage, with its own client or handles: for races
   * between clients and locks held through another object. Closed after the test.
   */
  reopen?(): Backend | Promise<Backend>;
  /** Frees what the factory made (temp folders, clients); runs after the backends are closed. */
  dispose?(): Promise<void>;
}

export type BackendFactory = () => Promise<BackendContext>;

export interface BackendSuiteOptions {
  /** Per-test timeout (ms) for slower storage. */
  timeout?: number;
  /** Why the listing past 1,000 keys is skipped here (where writing them is slow and tested elsewhere). */
  skipPaging?: string;
  /**
   * Tests (by name) this backend is known to fail, with the reason: they run as expected
   * failures, so that the fix shows (and the entry must go).
   */
  knownFailures?: Record<string, string>;
}

export interface BackendHarness {
  /** The backend of the current test. */
  backend(): Backend;
  /** Another object over the current test's storage, or undefined when the factory has none. */
  reopen(): Promise<Backend | undefined>;
  options: BackendSuiteOptions;
  /** vitest's `it`, or `it.fails` for a test named in `knownFailures`. */
  it(name: string, fn: TestFunction): void;
}

export function useBackendHarness(factory: BackendFactory, options: BackendSuiteOptions): BackendHarness {
  let ctx: BackendContext;
  const others: Backend[] = [];
  beforeEach(async () => {
    ctx = await factory();
  });
  afterEach(async () => {
    for (const other of others.splice(0)) await other.close?.();
    await ctx.backend.close?.();
    await ctx.dispose?.();
  });
  return {
    backend: () => ctx.backend,
    reopen: async () => {
      if (!ctx.reopen) return undefined;
      const other = await ctx.reopen();
      others.push(other);
      return other;
    },
    options,
    it: (name, fn) => {
      const known = options.knownFailures?.[name];
      if (known === undefined) it(name, fn);
      else it.fails(`${name} [known failure: ${known}]`, fn);
    },
  };
}

/** A key from a literal (the suite's keys are valid; keys meant to be refused are cast instead). */
export const k = (path: string): Key => toKey(path);

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

export const textOf = (data: Uint8Array): string => new TextDecoder().decode(data);

/** `length` bytes, all `value`: a torn or mixed read shows as a second value. */
export const filled = (length: number, value: number): Uint8Array => new Uint8Array(length).fill(value);

/** `total` bytes in chunks of `size` (the last one shorter), chunk n filled with n. */
export async function* chunks(total: number, size: number): AsyncIterable<Uint8Array> {
  for (let sent = 0, n = 0; sent < total; n++) {
    const part = filled(Math.min(size, total - sent), n & 255);
    sent += part.byteLength;
    yield part;
  }
}

/** What `chunks(total, size)` yields, as one array. */
export function chunksBytes(total: number, size: number): Uint8Array {
  const out = new Uint8Array(total);
  for (let at = 0, n = 0; at < total; at += size, n++) out.fill(n & 255, at, Math.min(at + size, total));
  return out;
}

/** Reads a stream to its end: its bytes and how many chunks they came in. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<{ data: Uint8Array; chunkCount: number }> {
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.byteLength;
  }
  return { data, chunkCount: parts.length };
}

/**
 * Expects `actual` to hold exactly the bytes of `expected` (toEqual compares large arrays one
 * element at a time, which takes seconds for a few MiB).
 */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  const differs = Buffer.compare(actual, expected) !== 0;
  expect(differs ? `first difference at byte ${actual.findIndex((x, i) => x !== expected[i])}` : 'same bytes').toBe('same bytes');
}

/** A listing as sorted lines "O key" (objects, folder markers included) and "P key" (prefixes). */
export async function listing(backend: Backend, prefix: string, opts: ListOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of backend.list(prefix === '' ? '' : k(prefix), opts)) out.push(`${e.kind === 'prefix' ? 'P' : 'O'} ${e.key}`);
  return out.sort();
}

/** The object keys under `prefix` that are not folders, sorted. */
export async function fileKeys(backend: Backend, prefix = '', opts: ListOptions = {}): Promise<string[]> {
  return (await listing(backend, prefix, opts)).filter((l) => l.startsWith('O ') && !l.endsWith('/')).map((l) => l.slice(2));
}

/**
 * Everything stored, romidb's own entries included, with sizes and etags: equal before and
 * after an operation when it changed nothing.
 */
export async function storageState(backend: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const e of backend.list('', { internal: true })) out.push(e.kind === 'prefix' ? `P ${e.key}` : `O ${e.key} ${e.size} ${e.etag}`);
  return out.sort();
}

/** Expects `call` to fail with a RomiError of the `expected` code, and returns that error. */
export async function failsWith(expected: string, call: Promise<unknown> | (() => Promise<unknown>)): Promise<Error> {
  let thrown: unknown;
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    thrown = err;
  }
  expect(thrown === undefined ? 'resolved' : code(thrown)).toBe(expected);
  return thrown as Error;
}

/** Iterates a listing to its end (listings are lazy: errors come on iteration). */
export async function consume(entries: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entries) {
    // nothing to do with the entries
  }
}
