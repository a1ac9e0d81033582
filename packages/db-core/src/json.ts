/**
 * JSON exactly as Python writes it with `json.dump(obj, f, sort_keys=True, indent=4)`, and a
 * reader built on JSON.parse that also takes what Python writes and JSON.parse refuses (NaN,
 * Infinity, -Infinity). Numbers whose value alone would be written back differently ("276.0",
 * "1e-5", "-0.0", big integers) keep their text as a LosslessNumber as long as they are not changed.
 *
 * Stored and user values may nest deeper than the JS stack allows: nesting is bounded by
 * MAX_JSON_DEPTH, and every walk over a JSON value here is a loop, not a recursion.
 */
import { isLosslessNumber, LosslessNumber } from 'lossless-json';
import { InvalidMetadataError } from './errors.js';

/**
 * The deepest nesting romidb reads or writes (`[]` is 1 level, `{"a": []}` is 2). Python's json
 * module stops near 995 levels (RecursionError), so whatever Python writes fits.
 */
export const MAX_JSON_DEPTH = 1000;

const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels`;

/** Valid JSON nesting deeper than MAX_JSON_DEPTH. Not a RomiError: each reader names its key. */
export class JsonDepthError extends Error {
  constructor() {
    super(TOO_DEEP);
    this.name = 'JsonDepthError';
  }
}

/** Why stored JSON cannot be used, as readers put it in a CorruptDataError. */
export function jsonProblem(err: unknown): string {
  return err instanceof JsonDepthError ? err.message : `not valid JSON (${(err as Error).message})`;
}

/** A parsed JSON value whose numbers may be LosslessNumber (read from storage) or number (new). */
export type JsonTree = unknown;

type Container = unknown[] | Record<string, unknown>;

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

// ---- reader ----

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** A JSON input as text for JSON.parse, and as UTF-8 bytes for the number scanner (encoded only if needed). */
interface Source {
  text: string;
  bytes(): Uint8Array;
}

function sourceOf(input: string | Uint8Array): Source {
  if (typeof input !== 'string') return { text: utf8Decoder.decode(input), bytes: () => input };
  let bytes: Uint8Array | undefined;
  return { text: input, bytes: () => (bytes ??= utf8Encoder.encode(input)) };
}

/**
 * Parses JSON (text, or UTF-8 bytes) into plain values: JSON.parse, plus NaN, Infinity and
 * -Infinity. Throws SyntaxError or TypeError (bad UTF-8) on invalid input, JsonDepthError past MAX_JSON_DEPTH.
 */
export function parseJson(input: string | Uint8Array): unknown {
  const { tree, tokens } = parseNative(sourceOf(input));
  if (tokens === undefined) {
    inspectTree(tree);
    return tree;
  }
  return placeNumbers(tree, tokens.filter(isNonFinite));
}

/**
 * Like parseJson, but numbers that formatNumber would write differently keep their text
 * (LosslessNumber). Costs JSON.parse, a walk of the tree, and, only when the tree holds
 * numbers, one pass over the bytes.
 */
export function parseJsonTree(input: string | Uint8Array): JsonTree {
  const source = sourceOf(input);
  const { tree, tokens } = parseNative(source);
  if (tokens !== undefined) return placeNumbers(tree, tokens);
  if (!inspectTree(tree)) return tree;
  return placeNumbers(tree, scanNumberTexts(source.bytes()));
}

/** A number token whose parsed value alone is not enough to write it back as stored. */
interface NumberToken {
  /** Keys and indexes from the root to the number. */
  path: Array<string | number>;
  text: string;
  /** Where it starts and ends in the bytes. */
  start: number;
  end: number;
  /** A later duplicate key replaced what held this number (JSON.parse keeps the last one). */
  shadowed: boolean;
}

const NON_FINITE = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

const isNonFinite = (t: NumberToken): boolean => NON_FINITE.has(t.text);

/** JSON.parse's tree; when only NaN/Infinity made it fail, the tree with zeros in their place and the tokens to put back. */
function parseNative(source: Source): { tree: unknown; tokens?: NumberToken[] } {
  try {
    return { tree: JSON.parse(source.text) };
  } catch (err) {
    // Python's json.dump writes NaN, Infinity and -Infinity by default.
    if (!/NaN|Infinity/.test(source.text)) throw err;
    const bytes = source.bytes();
    const tokens = scanNumberTexts(bytes);
    const nonFinite = tokens.filter(isNonFinite);
    if (nonFinite.length === 0) throw err;
    try {
      return { tree: JSON.parse(withZeros(bytes, nonFinite)), tokens };
    } catch {
      throw err;
    }
  }
}

/**
 * The text of `bytes` with each token replaced by 0. A token runs from one delimiter to the
 * next, so the JSON is valid with the 0 exactly when it was with a number there.
 */
function withZeros(bytes: Uint8Array, tokens: NumberToken[]): string {
  const parts: string[] = [];
  let from = 0;
  for (const t of tokens) {
    parts.push(utf8Decoder.decode(bytes.subarray(from, t.start)), '0');
    from = t.end;
  }
  parts.push(utf8Decoder.decode(bytes.subarray(from)));
  return parts.join('');
}

/** Whether `tree` holds a number; throws JsonDepthError when it nests deeper than MAX_JSON_DEPTH. */
function inspectTree(tree: unknown): boolean {
  if (typeof tree !== 'object' || tree === null) return typeof tree === 'number';
  let numbers = false;
  // Containers to visit, each followed by how many containers hold it.
  const pending: unknown[] = [tree, 0];
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'object') {
      if (v !== null) pending.push(v, depth);
    } else if (typeof v === 'number') numbers = true;
  };
  while (pending.length > 0) {
    const depth = (pending.pop() as number) + 1;
    const node = pending.pop() as Container;
    if (depth > MAX_JSON_DEPTH) throw new JsonDepthError();
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) visit(node[i], depth);
    } else {
      // for-in allocates nothing per object (Object.values would, 1.8 M times for a big index).
      for (const k in node) if (hasOwn(node, k)) visit(node[k], depth);
    }
  }
  return numbers;
}

const OBJECT = 1;
const ARRAY = 2;
const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Whether byte `c` ends a literal or number: whitespace (or a control byte) or punctuation. */
function endsWord(c: number): boolean {
  return c <= SPACE || c === COMMA || c === COLON || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === OPEN_ARRAY || c === OPEN_OBJECT || c === QUOTE;
}

/** Whether byte `c` starts a number (- or a digit), NaN (N) or Infinity (I). */
function startsNumber(c: number): boolean {
  return c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x4e || c === 0x49;
}

/**
 * The number tokens of the UTF-8 JSON `bytes`, in order, that need more than their parsed
 * value: those formatNumber would write differently, and NaN, Infinity, -Infinity. One pass
 * over the bytes (3× faster than over a string's chars) that follows only where each value
 * sits, allocating nothing per value. Throws JsonDepthError past MAX_JSON_DEPTH.
 */
function scanNumberTexts(bytes: Uint8Array): NumberToken[] {
  // Per open container, by depth: its kind, the current index or key, the first token inside it.
  const kinds = new Uint8Array(MAX_JSON_DEPTH);
  const indexes = new Int32Array(MAX_JSON_DEPTH);
  const keyStarts = new Int32Array(MAX_JSON_DEPTH);
  const keyEnds = new Int32Array(MAX_JSON_DEPTH);
  const firstTokens = new Int32Array(MAX_JSON_DEPTH);
  const tokens: NumberToken[] = [];
  let top = -1;
  let expectKey = false;

  const keyAt = (d: number): string => {
    const raw = utf8Decoder.decode(bytes.subarray(keyStarts[d], keyEnds[d]));
    return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const pathHere = (): Array<string | number> => {
    const path: Array<string | number> = [];
    for (let d = 0; d <= top; d++) path.push(kinds[d] === ARRAY ? indexes[d]! : keyAt(d));
    return path;
  };

  const n = bytes.length;
  const spaces = new SpaceSkipper(bytes);
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (c === SPACE) {
      i = spaces.skip(i + 1);
    } else if (c === QUOTE) {
      const start = i++;
      for (let b = bytes[i]; b !== QUOTE && i < n; b = bytes[++i]) if (b === BACKSLASH) i++;
      i++;
      if (expectKey) {
        expectKey = false;
        keyStarts[top] = start;
        keyEnds[top] = i;
        if (tokens.length > firstTokens[top]!) shadow(tokens, firstTokens[top]!, top, keyAt(top));
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++top >= MAX_JSON_DEPTH) throw new JsonDepthError();
      kinds[top] = c === OPEN_OBJECT ? OBJECT : ARRAY;
      indexes[top] = 0;
      firstTokens[top] = tokens.length;
      expectKey = c === OPEN_OBJECT;
      i++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (top >= 0) top--;
      expectKey = false;
      i++;
    } else if (c === COMMA) {
      if (top >= 0 && kinds[top] === ARRAY) indexes[top]!++;
      else expectKey = true;
      i++;
    } else if (startsNumber(c)) {
      const start = i;
      while (++i < n && !endsWord(bytes[i]!));
      const text = utf8Decoder.decode(bytes.subarray(start, i));
      if (NON_FINITE.has(text) || !writtenBackAs(text)) tokens.push({ path: pathHere(), text, start, end: i, shadowed: false });
    } else {
      // true, false, null, whitespace, ":" (and, in invalid input, anything else).
      i++;
    }
  }
  return tokens;
}

const FOUR_SPACES = 0x20202020;

/**
 * Indentation is most of the bytes of an indented file: runs of spaces are skipped four
 * bytes at a time, through a 32-bit view of the same memory (twice as fast as byte by byte).
 */
class SpaceSkipper {
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  /** How far the first byte sits past a 4-byte boundary. */
  readonly #shift: number;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#shift = bytes.byteOffset & 3;
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset - this.#shift, (bytes.length + this.#shift) >> 2);
  }

  /** The offset of the first byte at or after `i` that is not a space. */
  skip(i: number): number {
    const bytes = this.#bytes;
    while (((i + this.#shift) & 3) !== 0) {
      if (bytes[i] !== SPACE) return i;
      i++;
    }
    let w = (i + this.#shift) >> 2;
    while (w < this.#words.length && this.#words[w] === FOUR_SPACES) w++;
    i = (w << 2) - this.#shift;
    while (bytes[i] === SPACE) i++;
    return i;
  }
}

/** Marks the tokens from `from` on that sit under `key` of the object at `depth`: it is being given again. */
function shadow(tokens: NumberToken[], from: number, depth: number, key: string): void {
  for (let t = from; t < tokens.length; t++) if (tokens[t]!.path[depth] === key) tokens[t]!.shadowed = true;
}

const SMALL_INT = /^(?:-?[1-9][0-9]*|0)$/;

/** Whether formatNumber writes the number parsed from `text` as `text` again. */
function writtenBackAs(text: string): boolean {
  // Most stored numbers are small integers (at most 15 characters: safe).
  if (text.length <= 15 && SMALL_INT.test(text)) return true;
  return formatNumber(Number(text)) === text;
}

/** Puts each token's value where JSON.parse left its number: a LosslessNumber, or NaN/±Infinity. */
function placeNumbers(tree: unknown, tokens: NumberToken[]): unknown {
  for (const t of tokens) {
    if (t.shadowed) continue;
    const value = NON_FINITE.get(t.text) ?? new LosslessNumber(t.text);
    if (t.path.length === 0) {
      tree = value;
      continue;
    }
    let parent = tree as Record<string | number, unknown>;
    for (let d = 0; d < t.path.length - 1; d++) parent = parent[t.path[d]!] as Record<string | number, unknown>;
    const last = t.path[t.path.length - 1]!;
    if (typeof parent[last] !== 'number') throw new Error(`number ${t.text} at byte ${t.start} is not where JSON.parse put it`);
    if (typeof last === 'number') parent[last] = value;
    else setOwn(parent, last, value);
  }
  return tree;
}

// ---- walks over values ----

/** Sets an own property even for "__proto__", which plain assignment would turn into a prototype change. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** An empty array or object to copy `v` into, or undefined when `v` is not one. */
function emptyLike(v: unknown): Container | undefined {
  if (Array.isArray(v)) return [];
  return isPlainObject(v) ? {} : undefined;
}

/**
 * A deep copy of `next`, walking `prev` alongside it (same key, same index): each value that
 * is neither array nor plain object becomes `leaf(value, what prev holds at the same place)`.
 */
function copyAlong(next: unknown, prev: unknown, leaf: (v: unknown, p: unknown) => unknown): unknown {
  const pending: Array<[Container, unknown, Container]> = [];
  const copy = (v: unknown, p: unknown): unknown => {
    const out = emptyLike(v);
    if (out === undefined) return leaf(v, p);
    pending.push([v as Container, p, out]);
    return out;
  };
  const root = copy(next, prev);
  while (pending.length > 0) {
    const [src, p, out] = pending.pop()!;
    if (Array.isArray(src)) {
      const pa = Array.isArray(p) ? p : [];
      for (let i = 0; i < src.length; i++) (out as unknown[]).push(copy(src[i], pa[i]));
    } else {
      const po = isPlainObject(p) ? p : {};
      for (const k of Object.keys(src)) setOwn(out as Record<string, unknown>, k, copy(src[k], hasOwn(po, k) ? po[k] : undefined));
    }
  }
  return root;
}

/** A deep copy with plain JS numbers: what users get from getMetadata(). */
export function toPlain(tree: JsonTree): unknown {
  return copyAlong(tree, undefined, (v) => (isLosslessNumber(v) ? Number((v as LosslessNumber).value) : v));
}

/**
 * Returns `next`, but wherever it holds the number of the LosslessNumber at the same place in
 * `prev`, keeps the stored text: writing back an unchanged value changes no byte.
 */
export function reconcile(next: unknown, prev: JsonTree): unknown {
  return copyAlong(next, prev, (v, p) =>
    typeof v === 'number' && isLosslessNumber(p) && Object.is(Number((p as LosslessNumber).value), v) ? p : v,
  );
}

/** A container being copied by copyJsonValue: the next key or index to take from it. */
interface CopyFrame {
  src: Container;
  out: Container;
  /** undefined for arrays. */
  keys: string[] | undefined;
  next: number;
}

/**
 * Checks that `value` can be stored as JSON without loss and returns a deep copy of it.
 * Refuses functions, symbols, BigInt, NaN, ±Infinity, undefined in arrays, circular
 * references, objects that are not plain (Date, Map, class instances) and nesting deeper than
 * MAX_JSON_DEPTH, counting `depth` containers around `value` where it will be stored.
 * Object properties whose value is undefined are dropped, as JSON.stringify does.
 */
export function copyJsonValue(value: unknown, path = 'value', depth = 0): unknown {
  const frames: CopyFrame[] = [];
  // The containers on the way to the current value: meeting one again is a cycle.
  const open = new Set<object>();
  const where = (): string => frames.reduce((p, f) => (f.keys ? `${p}.${f.keys[f.next - 1]}` : `${p}[${f.next - 1}]`), path);
  const enter = (v: object): Container => {
    if (open.has(v)) throw new InvalidMetadataError(`${where()} is a circular reference`);
    const out = emptyLike(v);
    if (out === undefined) {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw new InvalidMetadataError(`${where()} is a ${name}, not a plain object; JSON cannot hold it`);
    }
    if (depth + frames.length + 1 > MAX_JSON_DEPTH) throw new InvalidMetadataError(`${where()} is ${TOO_DEEP}`);
    open.add(v);
    frames.push({ src: v as Container, out, keys: Array.isArray(v) ? undefined : Object.keys(v), next: 0 });
    return out;
  };
  const copy = (v: unknown): unknown => (isJsonScalar(v, where) ? v : enter(v as object));

  const root = copy(value);
  while (frames.length > 0) {
    const f = frames[frames.length - 1]!;
    if (f.next === (f.keys ?? (f.src as unknown[])).length) {
      open.delete(f.src);
      frames.pop();
      continue;
    }
    const key = f.keys ? f.keys[f.next]! : f.next;
    f.next++;
    const v = (f.src as Record<string | number, unknown>)[key];
    if (v === undefined && f.keys) continue;
    if (f.keys) setOwn(f.out as Record<string, unknown>, key as string, copy(v));
    else (f.out as unknown[]).push(copy(v));
  }
  return root;
}

/** Whether `v` is a value JSON holds as is (not a container); throws for what JSON cannot hold. */
function isJsonScalar(v: unknown, where: () => string): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidMetadataError(`${where()} is ${v}, which JSON cannot hold`);
      return true;
    case 'bigint':
      throw new InvalidMetadataError(`${where()} is a BigInt, which JSON cannot hold; convert it to a number or string`);
    case 'undefined':
      throw new InvalidMetadataError(`${where()} is undefined, which JSON cannot hold`);
    case 'function':
    case 'symbol':
      throw new InvalidMetadataError(`${where()} is a ${typeof v}, which JSON cannot hold`);
  }
  return v === null || isLosslessNumber(v);
}

/** A number's value, LosslessNumber or not; undefined for anything else. */
function numberValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  return isLosslessNumber(v) ? Number((v as LosslessNumber).value) : undefined;
}

/**
 * Deep equality of JSON values, numbers by value (LosslessNumber or not). NaN equals NaN and
 * 0 differs from -0: what tells whether writing a value back changes the stored one.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const pairs: unknown[] = [a, b];
  while (pairs.length > 0) {
    const y = pairs.pop();
    const x = pairs.pop();
    const nx = numberValue(x);
    if (nx !== undefined) {
      const ny = numberValue(y);
      if (ny === undefined || !Object.is(nx, ny)) return false;
    } else if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) pairs.push(x[i], y[i]);
    } else if (isPlainObject(x)) {
      if (!isPlainObject(y)) return false;
      const keys = Object.keys(x);
      if (keys.length !== Object.keys(y).length) return false;
      for (const k of keys) {
        if (!hasOwn(y, k)) return false;
        pairs.push(x[k], y[k]);
      }
    } else if (x !== y) {
      return false;
    }
  }
  return true;
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
function formatNumber(n: number): string {
  // -0 exists only as a float (Python's -0.0); every other integral value is written as an int.
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isSafeInteger(n)) return String(n);
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
function compareCodePoints(a: string, b: string): number {
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
const lineStarts: string[] = [];

/** A newline and the indentation of `depth` (cached for the usual shallow depths). */
function lineStart(depth: number): string {
  if (depth >= 64) return `\n${INDENT.repeat(depth)}`;
  return (lineStarts[depth] ??= `\n${INDENT.repeat(depth)}`);
}

/** A non-empty array or object being written: what comes next in it. */
interface WriteFrame {
  container: Container;
  /** Sorted keys; undefined for arrays. */
  keys: string[] | undefined;
  next: number;
  depth: number;
}

/** Writes `v` if it is a scalar or an empty container; returns the frame to write a non-empty one. */
function writeOpening(v: unknown, depth: number, out: string[]): WriteFrame | undefined {
  if (v === null) out.push('null');
  else if (typeof v === 'string') out.push(formatString(v));
  else if (typeof v === 'number') out.push(formatNumber(v));
  else if (typeof v === 'boolean') out.push(v ? 'true' : 'false');
  else if (isLosslessNumber(v)) out.push((v as LosslessNumber).value);
  else if (Array.isArray(v)) {
    if (v.length === 0) out.push('[]');
    else {
      out.push('[');
      return { container: v, keys: undefined, next: 0, depth };
    }
  } else if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(compareCodePoints);
    if (keys.length === 0) out.push('{}');
    else {
      out.push('{');
      return { container: v, keys, next: 0, depth };
    }
  } else {
    throw new InvalidMetadataError(`cannot write ${typeof v} as JSON`);
  }
  return undefined;
}

function write(root: unknown, rootDepth: number, out: string[]): void {
  const frames: WriteFrame[] = [];
  let value = root;
  let depth = rootDepth;
  for (;;) {
    const opened = writeOpening(value, depth, out);
    if (opened) frames.push(opened);
    // Close what is finished, then move to the next item of the innermost open container.
    let f = frames[frames.length - 1];
    while (f && f.next === (f.keys ?? (f.container as unknown[])).length) {
      out.push(`${lineStart(f.depth)}${f.keys ? '}' : ']'}`);
      frames.pop();
      f = frames[frames.length - 1];
    }
    if (!f) return;
    out.push(f.next === 0 ? lineStart(f.depth + 1) : `,${lineStart(f.depth + 1)}`);
    if (f.keys) {
      const key = f.keys[f.next]!;
      out.push(formatString(key), ': ');
      value = (f.container as Record<string, unknown>)[key];
    } else {
      value = (f.container as unknown[])[f.next];
    }
    f.next++;
    depth = f.depth + 1;
  }
}

/** `json.dumps(value, sort_keys=True, indent=4)` byte for byte (no trailing newline). */
export function formatPythonJson(value: unknown, depth = 0): string {
  const out: string[] = [];
  write(value, depth, out);
  return out.join('');
}

export { isLosslessNumber, LosslessNumber };
