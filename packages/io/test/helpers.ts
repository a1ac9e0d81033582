import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isRomiError, type File } from '@romi/db-core';
import { expect } from 'vitest';
import type { NDArray } from '../src/index.js';

export const FIXTURES = fileURLToPath(new URL('../../../test-fixtures/io/', import.meta.url));
export const REAL = `${FIXTURES}real/`;
export const NUMPY = `${FIXTURES}numpy/`;

export function fixture(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURES + rel));
}

export interface Expected {
  dtype: string;
  shape: number[];
  values: string[];
}
export const expected: Record<string, Expected> = JSON.parse(readFileSync(`${NUMPY}expected.json`, 'utf8'));

/** Compares an array with numpy's record of it, bit for bit (NaN, -0.0 and 64-bit integers included). */
export function expectMatches(arr: NDArray, exp: Expected): void {
  expect(arr.dtype).toBe(exp.dtype);
  expect(arr.shape).toEqual(exp.shape);
  expect(arr.data.length).toBe(exp.values.length);
  exp.values.forEach((s, i) => {
    const v = arr.data[i];
    if (typeof v === 'bigint') expect(v).toBe(BigInt(s));
    else {
      const want = s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
      if (!Object.is(v, want)) expect.fail(`value ${i}: got ${v}, numpy has ${s}`);
    }
  });
}

/** Runs a promise or function and returns the RomiError it throws (fails if it does not). */
export async function romiError(fn: () => unknown): Promise<{ code: string; message: string; key?: string }> {
  try {
    await fn();
  } catch (err) {
    if (!isRomiError(err)) throw err;
    return err;
  }
  return expect.fail('expected a RomiError');
}

/**
 * The smallest File the io writers and readers use: bytes in memory, named `<id>.<ext>`.
 * Used where a real database File (memdb) is not needed.
 */
export class BytesFile {
  filename: string | null = null;
  data: Uint8Array | undefined;
  writes = 0;
  constructor(readonly id = 'f') {}
  async writeBytes(data: Uint8Array, ext: string): Promise<void> {
    this.data = new Uint8Array(data);
    this.filename = `${this.id}.${ext.replace(/^\./, '')}`;
    this.writes++;
  }
  async readBytes(): Promise<Uint8Array> {
    if (!this.data) throw new Error('never written');
    return this.data;
  }
  localPath(): string | undefined {
    return undefined;
  }
  get ext(): string | undefined {
    return this.filename?.split('.').pop();
  }
  asFile(): File {
    return this as unknown as File;
  }
}

/** Debian's python3 with numpy (and optionally tifffile), when installed; tests using it skip otherwise. */
const PYTHON = '/usr/bin/python3';
function pythonHas(mod: string): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', `import ${mod}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
export const HAS_NUMPY = pythonHas('numpy');
export const HAS_TIFFFILE = HAS_NUMPY && pythonHas('tifffile');
/** Appended to the name of a test that needs Python, when it is skipped (.ci/run installs them). */
export const NO_NUMPY = HAS_NUMPY ? '' : " [skipped: Debian's python3-numpy is not installed]";
export const NO_TIFFFILE = HAS_TIFFFILE ? '' : " [skipped: Debian's python3-tifffile/python3-pil are not installed]";

export function python(script: string, args: string[] = []): string {
  return execFileSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' });
}

/** Byte equality for large typed arrays (vitest's deep equality is slow on millions of elements). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export type V = ['i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64', number];
/** A binary PLY from a header (without the "ply"/format lines) and a list of typed values. */
export function binPly(header: string, values: V[], le = true): Uint8Array {
  const head = new TextEncoder().encode(`ply\nformat binary_${le ? 'little' : 'big'}_endian 1.0\n${header.trim()}\nend_header\n`);
  const size = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 };
  const body = new DataView(new ArrayBuffer(values.reduce((n, [t]) => n + size[t], 0)));
  let p = 0;
  for (const [t, v] of values) {
    ({
      i8: () => body.setInt8(p, v),
      u8: () => body.setUint8(p, v),
      i16: () => body.setInt16(p, v, le),
      u16: () => body.setUint16(p, v, le),
      i32: () => body.setInt32(p, v, le),
      u32: () => body.setUint32(p, v, le),
      f32: () => body.setFloat32(p, v, le),
      f64: () => body.setFloat64(p, v, le),
    })[t]();
    p += size[t];
  }
  const out = new Uint8Array(head.length + body.byteLength);
  out.set(head);
  out.set(new Uint8Array(body.buffer), head.length);
  return out;
}

