/**
 * JSON exactly as Python writes it with `json.dump(obj, f, sort_keys=True, indent=4)`,
 * and a lossless reader: numbers read from storage keep their text ("276.0" stays "276.0")
 * as long as their value is not changed.
 */
import { isLosslessNumber, LosslessNumber, parse as parseLossless } from 'lossless-json';
import { InvalidMetadataError } from './errors.js';

/** A parsed JSON value whose numbers may be LosslessNumber (read from storage) or number (new). */
export type JsonTree = unknown;

/** Parses JSON keeping every number's text. Throws SyntaxError on invalid input. */
export function parseJsonTree(text: string): JsonTree {
  return parseLossless(text);
}

/** Sets an own property even for "__proto__", which plain assignment would turn into a prototype change. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A deep copy with plain JS numbers: what users get from getMetadata(). */
export function toPlain(tree: JsonTree): unknown {
  if (isLosslessNumber(tree)) return Number((tree as LosslessNumber).value);
  if (Array.isArray(tree)) return tree.map(toPlain);
  if (isPlainObject(tree)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree)) setOwn(out, k, toPlain(tree[k]));
    return out;
  }
  return tree;
}

/**
 * Checks that `value` can be stored as JSON without loss and returns a deep copy of it.
 * Refuses functions, symbols, BigInt, NaN, ±Infinity, undefined in arrays, circular
 * references and objects that are not plain (Date, Map, class instances).
 * Object properties whose value is undefined are dropped, as JSON.stringify does.
 */
export function copyJsonValue(value: unknown, path = 'value', seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidMetadataError(`${path} is ${value}, which JSON cannot hold`);
      return value;
    case 'bigint':
      throw new InvalidMetadataError(`${path} is a BigInt, which JSON cannot hold; convert it to a number or string`);
    case 'undefined':
      throw new InvalidMetadataError(`${path} is undefined, which JSON cannot hold`);
    case 'function':
    case 'symbol':
      throw new InvalidMetadataError(`${path} is a ${typeof value}, which JSON cannot hold`);
  }
  if (value === null) return null;
  if (isLosslessNumber(value)) return value;
  const obj = value as object;
  if (seen.has(obj)) throw new InvalidMetadataError(`${path} is a circular reference`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((v, i) => copyJsonValue(v, `${path}[${i}]`, seen));
    if (!isPlainObject(obj)) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw new InvalidMetadataError(`${path} is a ${name}, not a plain object; JSON cannot hold it`);
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj)) {
      const v = (obj as Record<string, unknown>)[k];
      if (v === undefined) continue;
      setOwn(out, k, copyJsonValue(v, `${path}.${k}`, seen));
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/**
 * Returns `next`, but wherever it holds a number equal to the LosslessNumber at the same
 * place in `prev`, keeps the stored text: writing back an unchanged value changes no byte.
 */
export function reconcile(next: unknown, prev: JsonTree): unknown {
  if (typeof next === 'number') {
    return isLosslessNumber(prev) && Number((prev as LosslessNumber).value) === next ? prev : next;
  }
  if (Array.isArray(next)) {
    const p = Array.isArray(prev) ? prev : [];
    return next.map((v, i) => reconcile(v, p[i]));
  }
  if (isPlainObject(next)) {
    const p = isPlainObject(prev) ? prev : {};
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(next)) setOwn(out, k, reconcile(next[k], Object.prototype.hasOwnProperty.call(p, k) ? p[k] : undefined));
    return out;
  }
  return next;
}

/** Deep equality of plain JSON values (LosslessNumbers compare by value). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (isLosslessNumber(a)) a = Number((a as LosslessNumber).value);
  if (isLosslessNumber(b)) b = Number((b as LosslessNumber).value);
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

// ---- writer ----

/** Python's repr() of a float: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
export function pythonFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const sign = n < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** How a JS number is written: integers as Python ints, everything else as Python floats. */
export function formatNumber(n: number): string {
  if (Number.isSafeInteger(n)) return Object.is(n, -0) ? '0' : String(n);
  return pythonFloatRepr(n);
}

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

/** A string as Python's json with ensure_ascii=True writes it. */
export function formatString(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** Python sorts str keys by code point; JS's default sort compares UTF-16 units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Only surrogates (astral characters) order differently from code points.
    if (ca >= 0xd800 && ca <= 0xdfff && !(cb >= 0xd800 && cb <= 0xdfff) && cb >= 0xe000) return 1;
    if (cb >= 0xd800 && cb <= 0xdfff && !(ca >= 0xd800 && ca <= 0xdfff) && ca >= 0xe000) return -1;
    return ca - cb;
  }
  return a.length - b.length;
}

const INDENT = '    ';

function write(v: unknown, depth: number, out: string[]): void {
  if (v === null) {
    out.push('null');
  } else if (typeof v === 'string') {
    out.push(formatString(v));
  } else if (typeof v === 'number') {
    out.push(formatNumber(v));
  } else if (typeof v === 'boolean') {
    out.push(v ? 'true' : 'false');
  } else if (isLosslessNumber(v)) {
    out.push((v as LosslessNumber).value);
  } else if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push('[]');
      return;
    }
    const inner = `\n${INDENT.repeat(depth + 1)}`;
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      out.push(i === 0 ? inner : `,${inner}`);
      write(v[i], depth + 1, out);
    }
    out.push(`\n${INDENT.repeat(depth)}]`);
  } else if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(compareCodePoints);
    if (keys.length === 0) {
      out.push('{}');
      return;
    }
    const inner = `\n${INDENT.repeat(depth + 1)}`;
    out.push('{');
    keys.forEach((k, i) => {
      out.push(i === 0 ? inner : `,${inner}`, formatString(k), ': ');
      write(v[k], depth + 1, out);
    });
    out.push(`\n${INDENT.repeat(depth)}}`);
  } else {
    throw new InvalidMetadataError(`cannot write ${typeof v} as JSON`);
  }
}

/** `json.dumps(value, sort_keys=True, indent=4)` byte for byte (no trailing newline). */
export function formatPythonJson(value: unknown, depth = 0): string {
  const out: string[] = [];
  write(value, depth, out);
  return out.join('');
}

export { isLosslessNumber, LosslessNumber };
