import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { InvalidArgumentError, type File } from '@romi/db-core';
import { IoCorruptError } from './errors.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ReadOptions, type Source, type WriteOptions } from './source.js';

/** UTF-8 text of a file: a leading BOM is dropped, invalid UTF-8 is corrupt data. */
export function decodeText(bytes: Uint8Array, name: string, format: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new IoCorruptError(name, format, 'not valid UTF-8 text');
  }
}

// ---------------------------------------------------------------- JSON

export interface JSONWriteOptions extends WriteOptions {
  /** Spaces per level (default 4, as romidata's write_json); 0 writes one line. */
  indent?: number;
  /** Sort object keys (default false; Python's json.dumps keeps insertion order unless asked). */
  sortKeys?: boolean;
}

/**
 * Parses JSON as Python's json module does: besides standard JSON, the bare tokens NaN,
 * Infinity and -Infinity that Python writes for non-finite floats are numbers.
 */
export function parseJSON(text: string, name = BYTES_NAME): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const marked = markNonFinite(text);
    if (marked !== undefined) {
      try {
        return JSON.parse(marked.text, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(marked.tag) ? marked.values[v.slice(marked.tag.length)] : v));
      } catch {
        // fall through to the first error, which points at the real problem
      }
    }
    throw new IoCorruptError(name, 'JSON', (first as Error).message, { cause: first });
  }
}

/** Replaces NaN/Infinity/-Infinity outside strings by tagged strings; undefined if none. */
function markNonFinite(text: string): { text: string; tag: string; values: Record<string, number> } | undefined {
  // A random tag: no string in the document (escaped or not) can collide with it by accident.
  const tag = `\u0000nonfinite${Math.random().toString(36).slice(2)}:`;
  const values: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
  let out = '';
  let found = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      // copy the string literal, escapes included
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = c === 'N' || c === 'I' || c === '-' ? /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9)) : null;
    if (m && !/[\w$]/.test(text[i - 1] ?? ' ')) {
      out += JSON.stringify(tag + m[1]);
      i += m[1].length;
      found = true;
      continue;
    }
    out += c;
    i++;
  }
  return found ? { text: out, tag, values } : undefined;
}

/**
 * JSON text as Python's `json.dumps(value, indent=4)` writes it: ", " and ": " separators,
 * non-ASCII escaped as \uXXXX, NaN and ±Infinity as bare tokens, no trailing newline.
 * Typed arrays become lists; Maps and Sets are refused rather than silently emptied.
 */
export function stringifyJSON(value: unknown, opts: { indent?: number; sortKeys?: boolean } = {}): string {
  const indent = opts.indent ?? 4;
  if (!Number.isInteger(indent) || indent < 0 || indent > 16) throw new InvalidArgumentError(`indent must be an integer 0-16, got ${indent}`);
  const seen = new Set<object>();
  const write = (v: unknown, depth: number): string | undefined => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON: () => unknown }).toJSON();
    }
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        // -0 is a float to Python (-0.0), which JSON.stringify would print as 0.
        if (Object.is(v, -0)) return '-0.0';
        return Number.isFinite(v) ? JSON.stringify(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
      case 'bigint':
        return v.toString();
      case 'string':
        return asciiString(v);
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    const obj = v as object;
    if (seen.has(obj)) throw new InvalidArgumentError('cannot write a circular structure as JSON');
    if (obj instanceof Map || obj instanceof Set) throw new InvalidArgumentError('Maps and Sets have no JSON form; convert them first');
    seen.add(obj);
    const pad = indent ? `\n${' '.repeat(indent * (depth + 1))}` : '';
    const end = indent ? `\n${' '.repeat(indent * depth)}` : '';
    const sep = indent ? ',' : ', ';
    let out: string;
    if (Array.isArray(obj) || (ArrayBuffer.isView(obj) && !(obj instanceof DataView))) {
      const items = Array.from(obj as ArrayLike<unknown>, (x) => write(x, depth + 1) ?? 'null');
      out = items.length === 0 ? '[]' : `[${pad}${items.join(sep + pad)}${end}]`;
    } else {
      let keys = Object.keys(obj);
      if (opts.sortKeys) keys = keys.sort();
      const items: string[] = [];
      for (const k of keys) {
        const s = write((obj as Record<string, unknown>)[k], depth + 1);
        if (s !== undefined) items.push(`${asciiString(k)}: ${s}`);
      }
      out = items.length === 0 ? '{}' : `{${pad}${items.join(sep + pad)}${end}}`;
    }
    seen.delete(obj);
    return out;
  };
  const text = write(value, 0);
  if (text === undefined) throw new InvalidArgumentError(`cannot write ${typeof value} as JSON`);
  return text;
}

function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function readJSON<T = unknown>(src: Source, opts?: ReadOptions): Promise<T> {
  const { bytes, name } = await loadSource(src, opts);
  return parseJSON(decodeText(bytes, name, 'JSON'), name) as T;
}

export async function writeJSON(file: File, value: unknown, ext = 'json', opts: JSONWriteOptions = {}): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, new TextEncoder().encode(stringifyJSON(value, opts)), e, opts);
}

// ---------------------------------------------------------------- TOML

/** Parses TOML 1.0; integers beyond 2^53 come back as bigint rather than rounded. */
export function parseTOML(text: string, name = BYTES_NAME): Record<string, unknown> {
  try {
    return parseToml(text, { integersAsBigInt: 'asNeeded' }) as Record<string, unknown>;
  } catch (err) {
    throw new IoCorruptError(name, 'TOML', (err as Error).message.split('\n')[0], { cause: err });
  }
}

export function stringifyTOML(value: Record<string, unknown>): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('TOML documents are tables: pass a plain object');
  }
  try {
    return stringifyToml(value);
  } catch (err) {
    throw new InvalidArgumentError(`cannot write TOML: ${(err as Error).message}`);
  }
}

export async function readTOML<T = Record<string, unknown>>(src: Source, opts?: ReadOptions): Promise<T> {
  const { bytes, name } = await loadSource(src, opts);
  return parseTOML(decodeText(bytes, name, 'TOML'), name) as T;
}

export async function writeTOML(file: File, value: Record<string, unknown>, ext = 'toml', opts?: WriteOptions): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, new TextEncoder().encode(stringifyTOML(value)), e, opts);
}
