import { IoCorruptError } from './errors.js';
import { BYTES_NAME } from './source.js';

// PLY (Stanford polygon format): a text header, then elements as ASCII or binary records.
// http://paulbourke.net/dataformats/ply/ . The decoder writes straight into the caller's typed
// arrays (interleaved or not) and keeps no per-record objects, so memory stays proportional to
// the data. Every size in the header is checked against the bytes that are really there before
// anything is allocated.

export type PlyType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type PlyFormat = 'ascii' | 'binary_little_endian' | 'binary_big_endian';

export interface PlyProperty {
  name: string;
  /** The value type; for a list, the type of its items. */
  type: PlyType;
  /** Present for list properties: the type of the item count. */
  countType?: PlyType;
}
export interface PlyElement {
  name: string;
  count: number;
  properties: PlyProperty[];
}
export interface PlyHeader {
  format: PlyFormat;
  version: string;
  comments: string[];
  objInfo: string[];
  elements: PlyElement[];
  /** Byte offset of the body. */
  headerLength: number;
}

const FORMAT = 'PLY';
// Headers are a few hundred bytes; this bounds the search for end_header in a hostile file.
const MAX_HEADER = 1 << 20;

const TYPE_NAMES: Record<string, PlyType> = {
  char: 'int8',
  int8: 'int8',
  uchar: 'uint8',
  uint8: 'uint8',
  short: 'int16',
  int16: 'int16',
  ushort: 'uint16',
  uint16: 'uint16',
  int: 'int32',
  int32: 'int32',
  uint: 'uint32',
  uint32: 'uint32',
  float: 'float32',
  float32: 'float32',
  double: 'float64',
  float64: 'float64',
};
const PLY_TYPE_SIZE: Record<PlyType, number> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};
const isIntType = (t: PlyType) => t !== 'float32' && t !== 'float64';

/** Writable numeric arrays a decoder can fill. */
type NumArray = Float64Array | Float32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** Where one scalar property goes: out[offset + i * stride] for record i. */
export interface ScalarSink {
  out: NumArray;
  stride: number;
  offset: number;
  /** Optional conversion (colour scaling); identity when absent. */
  convert?: (v: number) => number;
}
/** A list property collected as CSR: items of record i are values[offsets[i] .. offsets[i+1]]. */
export interface PlyList {
  offsets: Uint32Array;
  values: NumArray;
}
export interface ListSink {
  list: true;
  result?: PlyList;
}
type Sink = ScalarSink | ListSink;
/** Per element name, per property name: where its values go. Absent properties are skipped. */
export type PlyPlan = Record<string, Record<string, Sink>>;

function isPly(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x70 && b[1] === 0x6c && b[2] === 0x79 && (b[3] === 0x0a || b[3] === 0x0d);
}

export function parsePlyHeader(bytes: Uint8Array, name = BYTES_NAME): PlyHeader {
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  if (bytes.length === 0) throw corrupt('empty file');
  if (!isPly(bytes)) throw corrupt('not a PLY file (no "ply" line)');
  // The first line's terminator is the header's: "\n", "\r\n" or "\r".
  const crlf = bytes[3] === 0x0d && bytes[4] === 0x0a;
  const eolByte = bytes[3];
  const limit = Math.min(bytes.length, MAX_HEADER);
  const header: PlyHeader = { format: 'ascii', version: '', comments: [], objInfo: [], elements: [], headerLength: 0 };
  let sawFormat = false;
  let pos = crlf ? 5 : 4;
  let current: PlyElement | undefined;
  for (;;) {
    let eol = pos;
    while (eol < limit && bytes[eol] !== eolByte) eol++;
    if (eol >= limit) {
      throw corrupt(limit < bytes.length ? 'header longer than 1 MiB' : 'truncated header (no end_header line)');
    }
    let line = '';
    for (let i = pos; i < eol; i++) line += String.fromCharCode(bytes[i]);
    if (crlf && line.endsWith('\r')) line = line.slice(0, -1);
    pos = eol + 1;
    if (crlf) {
      if (bytes[pos] !== 0x0a) throw corrupt('inconsistent line endings in the header');
      pos++;
    }
    const t = line.trim().split(/\s+/);
    const kw = t[0];
    if (kw === '') continue;
    if (kw === 'end_header') break;
    if (kw === 'comment') header.comments.push(line.replace(/^\s*comment\s?/, ''));
    else if (kw === 'obj_info') header.objInfo.push(line.replace(/^\s*obj_info\s?/, ''));
    else if (kw === 'format') {
      if (sawFormat) throw corrupt('two format lines');
      if (t.length !== 3 || !['ascii', 'binary_little_endian', 'binary_big_endian'].includes(t[1])) {
        throw corrupt(`bad format line ${JSON.stringify(line)}`);
      }
      header.format = t[1] as PlyFormat;
      header.version = t[2];
      sawFormat = true;
    } else if (kw === 'element') {
      if (t.length !== 3 || !/^\d{1,15}$/.test(t[2])) throw corrupt(`bad element line ${JSON.stringify(line)}`);
      if (header.elements.some((e) => e.name === t[1])) throw corrupt(`element ${JSON.stringify(t[1])} appears twice`);
      current = { name: t[1], count: Number(t[2]), properties: [] };
      header.elements.push(current);
    } else if (kw === 'property') {
      if (!current) throw corrupt('property before any element');
      let prop: PlyProperty;
      if (t[1] === 'list') {
        const countType = TYPE_NAMES[t[2]];
        const type = TYPE_NAMES[t[3]];
        if (t.length !== 5 || !countType || !type) throw corrupt(`bad property line ${JSON.stringify(line)}`);
        if (!isIntType(countType)) throw corrupt(`list count type ${t[2]} is not an integer type`);
        prop = { name: t[4], type, countType };
      } else {
        const type = TYPE_NAMES[t[1]];
        if (t.length !== 3 || !type) throw corrupt(`bad property line ${JSON.stringify(line)}`);
        prop = { name: t[2], type };
      }
      if (current.properties.some((p) => p.name === prop.name)) {
        throw corrupt(`property ${JSON.stringify(prop.name)} appears twice in element ${JSON.stringify(current.name)}`);
      }
      current.properties.push(prop);
    } else throw corrupt(`unknown header line ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!sawFormat) throw corrupt('no format line');
  header.headerLength = pos;
  // The smallest body the counts allow must fit in the bytes that follow, so that callers can
  // size their arrays from the counts: binary records take their scalar and list-count bytes,
  // ASCII values at least one character and a separator.
  const left = bytes.length - pos;
  let least = 0;
  for (const el of header.elements) {
    let rec = 0;
    for (const p of el.properties) rec += header.format === 'ascii' ? 2 : PLY_TYPE_SIZE[p.countType ?? p.type];
    least += el.count * rec;
    if (least > left + 1) {
      throw corrupt(`element ${el.name}: ${el.count} records need at least ${least} bytes, the file has ${left} after the header`);
    }
  }
  return header;
}

/**
 * Decodes the body into the plan's sinks. Elements and properties without a sink are still
 * checked (sizes, counts) but not stored.
 */
export function decodePlyBody(bytes: Uint8Array, header: PlyHeader, plan: PlyPlan, name = BYTES_NAME): void {
  if (header.format === 'ascii') decodeAscii(bytes, header, plan, name);
  else decodeBinary(bytes, header, plan, header.format === 'binary_little_endian', name);
}

// ---------------------------------------------------------------- binary

function getter(type: PlyType): (dv: DataView, p: number, le: boolean) => number {
  switch (type) {
    case 'int8':
      return (dv, p) => dv.getInt8(p);
    case 'uint8':
      return (dv, p) => dv.getUint8(p);
    case 'int16':
      return (dv, p, le) => dv.getInt16(p, le);
    case 'uint16':
      return (dv, p, le) => dv.getUint16(p, le);
    case 'int32':
      return (dv, p, le) => dv.getInt32(p, le);
    case 'uint32':
      return (dv, p, le) => dv.getUint32(p, le);
    case 'float32':
      return (dv, p, le) => dv.getFloat32(p, le);
    case 'float64':
      return (dv, p, le) => dv.getFloat64(p, le);
  }
}

/** Reads one property of `count` fixed-size records, `rec` bytes apart, into a sink. */
function readColumn(dv: DataView, type: PlyType, le: boolean, p: number, count: number, rec: number, s: ScalarSink): void {
  const { out, stride } = s;
  let o = s.offset;
  if (s.convert) {
    const get = getter(type);
    const cv = s.convert;
    for (let i = 0; i < count; i++, p += rec, o += stride) out[o] = cv(get(dv, p, le));
    return;
  }
  // One small function per type keeps each loop monomorphic: the hot path for large clouds.
  const n = count;
  switch (type) {
    case 'float64':
      return colF64(dv, le, p, n, rec, out, stride, o);
    case 'float32':
      return colF32(dv, le, p, n, rec, out, stride, o);
    case 'uint8':
      return colU8(dv, p, n, rec, out, stride, o);
    case 'int8':
      return colI8(dv, p, n, rec, out, stride, o);
    case 'int16':
      return colI16(dv, le, p, n, rec, out, stride, o);
    case 'uint16':
      return colU16(dv, le, p, n, rec, out, stride, o);
    case 'int32':
      return colI32(dv, le, p, n, rec, out, stride, o);
    case 'uint32':
      return colU32(dv, le, p, n, rec, out, stride, o);
  }
}

type Col = (dv: DataView, le: boolean, p: number, n: number, rec: number, out: NumArray, stride: number, o: number) => void;
type Col8 = (dv: DataView, p: number, n: number, rec: number, out: NumArray, stride: number, o: number) => void;
const colF64: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getFloat64(p, le);
};
const colF32: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getFloat32(p, le);
};
const colI16: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getInt16(p, le);
};
const colU16: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getUint16(p, le);
};
const colI32: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getInt32(p, le);
};
const colU32: Col = (dv, le, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getUint32(p, le);
};
const colU8: Col8 = (dv, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getUint8(p);
};
const colI8: Col8 = (dv, p, n, rec, out, stride, o) => {
  for (let i = 0; i < n; i++, p += rec, o += stride) out[o] = dv.getInt8(p);
};

function newArray(type: PlyType, n: number): NumArray {
  switch (type) {
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
  }
}

function decodeBinary(bytes: Uint8Array, header: PlyHeader, plan: PlyPlan, le: boolean, name: string): void {
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = header.headerLength;
  for (const el of header.elements) {
    const sinks = plan[el.name] ?? {};
    const count = el.count;
    const hasList = el.properties.some((p) => p.countType);
    const left = bytes.length - pos;
    if (el.properties.length === 0) continue; // records of no bytes: nothing to read
    if (!hasList) {
      let rec = 0;
      for (const p of el.properties) rec += PLY_TYPE_SIZE[p.type];
      if (count * rec > left) {
        throw corrupt(`element ${el.name}: ${count} records of ${rec} bytes need ${count * rec} bytes, ${left} left`);
      }
      let off = 0;
      for (const p of el.properties) {
        const s = sinks[p.name];
        if (s && !('list' in s)) {
          checkSink(s, count, el.name, p.name);
          readColumn(dv, p.type, le, pos + off, count, rec, s);
        }
        off += PLY_TYPE_SIZE[p.type];
      }
      pos += count * rec;
      continue;
    }
    // Records of varying size. A record takes at least its scalars plus its list counts.
    let minRec = 0;
    for (const p of el.properties) minRec += PLY_TYPE_SIZE[p.countType ?? p.type];
    if (count * minRec > left) {
      throw corrupt(`element ${el.name}: ${count} records need at least ${count * minRec} bytes, ${left} left`);
    }
    const props = el.properties;
    if (props.length === 1 && props[0].countType === 'uint8' && (props[0].type === 'uint32' || props[0].type === 'int32')) {
      pos = readFaceList(bytes, dv, le, pos, el, sinks[props[0].name], name);
      continue;
    }
    // Pass 1 walks the records to check every list length against the file and to size the lists.
    const getCount = props.map((p) => (p.countType ? getter(p.countType) : undefined));
    const totals = new Float64Array(props.length);
    let q = pos;
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < props.length; k++) {
        const p = props[k];
        const ct = p.countType;
        if (ct) {
          if (q + PLY_TYPE_SIZE[ct] > bytes.length) throw corrupt(`element ${el.name} record ${i}: truncated`);
          const n = getCount[k]!(dv, q, le);
          q += PLY_TYPE_SIZE[ct];
          if (n < 0) throw corrupt(`element ${el.name} record ${i}: negative list length ${n}`);
          const size = n * PLY_TYPE_SIZE[p.type];
          if (q + size > bytes.length) {
            throw corrupt(`element ${el.name} record ${i}: list of ${n} items runs past the end of the file`);
          }
          q += size;
          totals[k] += n;
        } else {
          q += PLY_TYPE_SIZE[p.type];
          if (q > bytes.length) throw corrupt(`element ${el.name} record ${i}: truncated`);
        }
      }
    }
    const end = q;
    // Pass 2 fills the sinks that were asked for.
    const wanted = props.map((p) => sinks[p.name]);
    if (wanted.some((s) => s)) {
      const lists = props.map((p, k) => {
        const s = wanted[k];
        if (!s || !('list' in s)) return undefined;
        if (!p.countType) throw new TypeError(`property ${p.name} of ${el.name} is not a list`);
        const r: PlyList = { offsets: new Uint32Array(count + 1), values: newArray(p.type, totals[k]) };
        s.result = r;
        return r;
      });
      const getItem = props.map((p) => getter(p.type));
      for (const [k, p] of props.entries()) {
        const s = wanted[k];
        if (s && !('list' in s)) {
          if (p.countType) throw new TypeError(`property ${p.name} of ${el.name} is a list`);
          checkSink(s, count, el.name, p.name);
        }
      }
      q = pos;
      for (let i = 0; i < count; i++) {
        for (let k = 0; k < props.length; k++) {
          const p = props[k];
          const s = wanted[k];
          const ct = p.countType;
          const isz = PLY_TYPE_SIZE[p.type];
          if (ct) {
            const n = getCount[k]!(dv, q, le);
            q += PLY_TYPE_SIZE[ct];
            const r = lists[k];
            if (r) {
              let o = r.offsets[i];
              const get = getItem[k];
              for (let j = 0; j < n; j++, q += isz) r.values[o++] = get(dv, q, le);
              r.offsets[i + 1] = o;
            } else q += n * isz;
          } else {
            if (s && !('list' in s)) {
              const v = getItem[k](dv, q, le);
              s.out[s.offset + i * s.stride] = s.convert ? s.convert(v) : v;
            }
            q += isz;
          }
        }
      }
    }
    pos = end;
  }
}

/** The usual face element (`list uchar uint vertex_indices` and nothing else), without closures. */
function readFaceList(bytes: Uint8Array, dv: DataView, le: boolean, pos: number, el: PlyElement, sink: Sink | undefined, name: string): number {
  const count = el.count;
  const signed = el.properties[0].type === 'int32';
  let q = pos;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (q >= bytes.length) throw new IoCorruptError(name, FORMAT, `element ${el.name} record ${i}: truncated`);
    const n = bytes[q];
    q += 1 + 4 * n;
    total += n;
  }
  if (q > bytes.length) throw new IoCorruptError(name, FORMAT, `element ${el.name}: last list runs past the end of the file`);
  if (sink && 'list' in sink) {
    const offsets = new Uint32Array(count + 1);
    const values = signed ? new Int32Array(total) : new Uint32Array(total);
    let o = 0;
    q = pos;
    for (let i = 0; i < count; i++) {
      const n = bytes[q++];
      if (signed) for (let j = 0; j < n; j++, q += 4) values[o++] = dv.getInt32(q, le);
      else for (let j = 0; j < n; j++, q += 4) values[o++] = dv.getUint32(q, le);
      offsets[i + 1] = o;
    }
    sink.result = { offsets, values };
  } else if (sink) throw new TypeError(`property ${el.properties[0].name} of ${el.name} is a list`);
  return q;
}

function checkSink(s: ScalarSink, count: number, el: string, prop: string): void {
  if (count > 0 && s.offset + (count - 1) * s.stride >= s.out.length) {
    throw new RangeError(`sink for ${el}.${prop} is too small for ${count} records`);
  }
}

// ---------------------------------------------------------------- ASCII

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** A whitespace-separated token reader over bytes, with exact number parsing. */
class Tokens {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly name: string,
  ) {
    this.pos = start;
  }

  /** The next token as a number; throws at the end of the data or on a non-number. */
  number(what: () => string): number {
    const b = this.b;
    let p = this.pos;
    const n = b.length;
    while (p < n && (b[p] === 0x20 || (b[p] >= 0x09 && b[p] <= 0x0d))) p++;
    if (p >= n) throw new IoCorruptError(this.name, FORMAT, `${what()}: unexpected end of data`);
    const start = p;
    while (p < n && !(b[p] === 0x20 || (b[p] >= 0x09 && b[p] <= 0x0d))) p++;
    this.pos = p;
    // Fast path, exact: up to 15 significant digits M and |exp| <= 22 give M / 10^k or
    // M * 10^k with both operands exact, so IEEE rounding makes the result correctly rounded.
    let i = start;
    let neg = false;
    if (b[i] === 0x2d) {
      neg = true;
      i++;
    } else if (b[i] === 0x2b) i++;
    let mant = 0;
    let digits = 0;
    let frac = 0;
    let any = false;
    while (i < p && b[i] >= 0x30 && b[i] <= 0x39) {
      if (mant !== 0 || b[i] !== 0x30) digits++;
      mant = mant * 10 + (b[i] - 0x30);
      any = true;
      i++;
    }
    if (i < p && b[i] === 0x2e) {
      i++;
      while (i < p && b[i] >= 0x30 && b[i] <= 0x39) {
        if (mant !== 0 || b[i] !== 0x30) digits++;
        mant = mant * 10 + (b[i] - 0x30);
        frac++;
        any = true;
        i++;
      }
    }
    let exp = 0;
    let expOk = true;
    if (any && i < p && (b[i] === 0x65 || b[i] === 0x45)) {
      i++;
      let eneg = false;
      if (b[i] === 0x2d) {
        eneg = true;
        i++;
      } else if (b[i] === 0x2b) i++;
      let ed = 0;
      while (i < p && b[i] >= 0x30 && b[i] <= 0x39 && ed < 6) {
        exp = exp * 10 + (b[i] - 0x30);
        ed++;
        i++;
      }
      if (ed === 0) expOk = false;
      if (eneg) exp = -exp;
    }
    if (any && expOk && i === p && digits <= 15) {
      const e = exp - frac;
      if (e === 0) return neg ? -mant : mant;
      if (e > 0 && e <= 22) return neg ? -(mant * POW10[e]) : mant * POW10[e];
      if (e < 0 && e >= -22) return neg ? -(mant / POW10[-e]) : mant / POW10[-e];
    }
    let s = '';
    for (let k = start; k < p; k++) s += String.fromCharCode(b[k]);
    const v = Number(s);
    if (!Number.isNaN(v)) return v;
    const l = s.toLowerCase().replace(/^\+/, '');
    if (l === 'nan' || l === '-nan') return NaN;
    if (l === 'inf' || l === 'infinity') return Infinity;
    if (l === '-inf' || l === '-infinity') return -Infinity;
    throw new IoCorruptError(this.name, FORMAT, `${what()}: ${JSON.stringify(s.slice(0, 40))} is not a number`);
  }
}

function checkInt(v: number, type: PlyType, what: () => string, name: string): number {
  if (!Number.isInteger(v)) throw new IoCorruptError(name, FORMAT, `${what()}: ${v} is not an integer (${type})`);
  return v;
}

function decodeAscii(bytes: Uint8Array, header: PlyHeader, plan: PlyPlan, name: string): void {
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  const tok = new Tokens(bytes, header.headerLength, name);
  for (const el of header.elements) {
    const sinks = plan[el.name] ?? {};
    const props = el.properties;
    if (props.length === 0) continue;
    // Each value takes at least one character and one separator.
    if (el.count * props.length > bytes.length - tok.pos) {
      throw corrupt(`element ${el.name}: ${el.count} records cannot fit in the ${bytes.length - tok.pos} bytes left`);
    }
    const wanted = props.map((p) => sinks[p.name]);
    const lists = props.map((p, k) => {
      const s = wanted[k];
      if (!s || !('list' in s)) return undefined;
      if (!p.countType) throw new TypeError(`property ${p.name} of ${el.name} is not a list`);
      const r = { offsets: new Uint32Array(el.count + 1), values: newArray(p.type, Math.min(el.count * 3, 1 << 20)), n: 0 };
      return r;
    });
    for (const [k, p] of props.entries()) {
      const s = wanted[k];
      if (s && !('list' in s)) {
        if (p.countType) throw new TypeError(`property ${p.name} of ${el.name} is a list`);
        checkSink(s, el.count, el.name, p.name);
      }
    }
    let i = 0;
    let k = 0;
    const where = () => `element ${el.name} record ${i} property ${props[k].name}`;
    for (i = 0; i < el.count; i++) {
      for (k = 0; k < props.length; k++) {
        const p = props[k];
        if (p.countType) {
          const n = checkInt(tok.number(where), p.countType, where, name);
          if (n < 0) throw corrupt(`${where()}: negative list length ${n}`);
          if (n > bytes.length - tok.pos) throw corrupt(`${where()}: list of ${n} items cannot fit in the file`);
          const r = lists[k];
          if (r) {
            if (r.n + n > r.values.length) {
              const bigger = newArray(p.type, Math.max(r.n + n, r.values.length * 2));
              bigger.set(r.values.subarray(0, r.n));
              r.values = bigger;
            }
            for (let j = 0; j < n; j++) {
              const v = tok.number(where);
              r.values[r.n++] = isIntType(p.type) ? checkInt(v, p.type, where, name) : v;
            }
            r.offsets[i + 1] = r.n;
          } else for (let j = 0; j < n; j++) tok.number(where);
        } else {
          const v = tok.number(where);
          if (isIntType(p.type)) checkInt(v, p.type, where, name);
          const s = wanted[k];
          if (s && !('list' in s)) s.out[s.offset + i * s.stride] = s.convert ? s.convert(v) : v;
        }
      }
    }
    lists.forEach((r, k2) => {
      if (r) (wanted[k2] as ListSink).result = { offsets: r.offsets, values: r.values.slice(0, r.n) };
    });
  }
}

// ---------------------------------------------------------------- generic decode

export interface PlyData {
  header: PlyHeader;
  /** Every element's properties: scalar ones as typed arrays of their own type, lists as CSR. */
  elements: Record<string, { count: number; properties: Record<string, NumArray | PlyList> }>;
}

/** Decodes every element and property of a PLY file, keeping all of them. */
export function decodePly(bytes: Uint8Array, name = BYTES_NAME): PlyData {
  const header = parsePlyHeader(bytes, name);
  const plan: PlyPlan = {};
  for (const el of header.elements) {
    plan[el.name] = {};
    for (const p of el.properties) {
      plan[el.name][p.name] = p.countType ? { list: true } : { out: newArray(p.type, el.count), stride: 1, offset: 0 };
    }
  }
  decodePlyBody(bytes, header, plan, name);
  const elements: PlyData['elements'] = {};
  for (const el of header.elements) {
    const properties: Record<string, NumArray | PlyList> = {};
    for (const p of el.properties) {
      const s = plan[el.name][p.name];
      properties[p.name] = 'list' in s ? s.result! : s.out;
    }
    elements[el.name] = { count: el.count, properties };
  }
  return { header, elements };
}

// ---------------------------------------------------------------- encode

export interface PlyColumn {
  name: string;
  type: PlyType;
  /** Values of all records, `stride` apart starting at `offset`. */
  data: ArrayLike<number>;
  stride: number;
  offset: number;
}
export interface PlyListColumn {
  name: string;
  countType: PlyType;
  type: PlyType;
  /** Fixed-size lists: `size` items per record, record i at data[i * size ...]. */
  size: number;
  data: ArrayLike<number>;
}
export interface PlyElementData {
  name: string;
  count: number;
  columns: Array<PlyColumn | PlyListColumn>;
}

const TYPE_WORD: Record<PlyType, string> = {
  int8: 'char',
  uint8: 'uchar',
  int16: 'short',
  uint16: 'ushort',
  int32: 'int',
  uint32: 'uint',
  float32: 'float',
  float64: 'double',
};

function setter(type: PlyType): (dv: DataView, p: number, v: number, le: boolean) => void {
  switch (type) {
    case 'int8':
      return (dv, p, v) => dv.setInt8(p, v);
    case 'uint8':
      return (dv, p, v) => dv.setUint8(p, v);
    case 'int16':
      return (dv, p, v, le) => dv.setInt16(p, v, le);
    case 'uint16':
      return (dv, p, v, le) => dv.setUint16(p, v, le);
    case 'int32':
      return (dv, p, v, le) => dv.setInt32(p, v, le);
    case 'uint32':
      return (dv, p, v, le) => dv.setUint32(p, v, le);
    case 'float32':
      return (dv, p, v, le) => dv.setFloat32(p, v, le);
    case 'float64':
      return (dv, p, v, le) => dv.setFloat64(p, v, le);
  }
}

/** Writes a PLY file; the header lists elements and properties in the order given. */
export function encodePly(elements: PlyElementData[], opts: { format?: PlyFormat; comments?: string[] } = {}): Uint8Array {
  const format = opts.format ?? 'binary_little_endian';
  let head = `ply\nformat ${format} 1.0\n`;
  for (const c of opts.comments ?? []) head += `comment ${c.replace(/[\r\n]+/g, ' ')}\n`;
  for (const el of elements) {
    head += `element ${el.name} ${el.count}\n`;
    for (const c of el.columns) {
      head += 'countType' in c ? `property list ${TYPE_WORD[c.countType]} ${TYPE_WORD[c.type]} ${c.name}\n` : `property ${TYPE_WORD[c.type]} ${c.name}\n`;
    }
  }
  head += 'end_header\n';
  const headBytes = new TextEncoder().encode(head);
  if (format === 'ascii') return encodeAscii(headBytes, elements);
  const le = format === 'binary_little_endian';
  let body = 0;
  for (const el of elements) {
    for (const c of el.columns) {
      body += el.count * ('countType' in c ? PLY_TYPE_SIZE[c.countType] + c.size * PLY_TYPE_SIZE[c.type] : PLY_TYPE_SIZE[c.type]);
    }
  }
  const out = new Uint8Array(headBytes.length + body);
  out.set(headBytes);
  const dv = new DataView(out.buffer);
  let pos = headBytes.length;
  for (const el of elements) {
    let rec = 0;
    for (const c of el.columns) rec += 'countType' in c ? PLY_TYPE_SIZE[c.countType] + c.size * PLY_TYPE_SIZE[c.type] : PLY_TYPE_SIZE[c.type];
    let off = 0;
    for (const c of el.columns) {
      if ('countType' in c) {
        const setCount = setter(c.countType);
        const setItem = setter(c.type);
        const isz = PLY_TYPE_SIZE[c.type];
        const csz = PLY_TYPE_SIZE[c.countType];
        for (let i = 0, p = pos + off; i < el.count; i++, p += rec) {
          setCount(dv, p, c.size, le);
          for (let j = 0; j < c.size; j++) setItem(dv, p + csz + j * isz, c.data[i * c.size + j], le);
        }
        off += csz + c.size * isz;
      } else {
        writeColumn(dv, c, pos + off, el.count, rec, le);
        off += PLY_TYPE_SIZE[c.type];
      }
    }
    pos += el.count * rec;
  }
  return out;
}

function writeColumn(dv: DataView, c: PlyColumn, p: number, count: number, rec: number, le: boolean): void {
  const { data, stride } = c;
  let o = c.offset;
  switch (c.type) {
    case 'float64':
      for (let i = 0; i < count; i++, p += rec, o += stride) dv.setFloat64(p, data[o], le);
      return;
    case 'float32':
      for (let i = 0; i < count; i++, p += rec, o += stride) dv.setFloat32(p, data[o], le);
      return;
    case 'uint8':
      for (let i = 0; i < count; i++, p += rec, o += stride) dv.setUint8(p, data[o]);
      return;
    default: {
      const set = setter(c.type);
      for (let i = 0; i < count; i++, p += rec, o += stride) set(dv, p, data[o], le);
    }
  }
}

function encodeAscii(head: Uint8Array, elements: PlyElementData[]): Uint8Array {
  const chunks: string[] = [];
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [head];
  let total = head.length;
  const flush = () => {
    const b = enc.encode(chunks.join(''));
    parts.push(b);
    total += b.length;
    chunks.length = 0;
  };
  for (const el of elements) {
    for (let i = 0; i < el.count; i++) {
      const vals: string[] = [];
      for (const c of el.columns) {
        if ('countType' in c) {
          vals.push(String(c.size));
          for (let j = 0; j < c.size; j++) vals.push(numText(c.data[i * c.size + j]));
        } else vals.push(numText(c.data[c.offset + i * c.stride]));
      }
      chunks.push(`${vals.join(' ')}\n`);
      if (chunks.length >= 4096) flush();
    }
  }
  flush();
  const out = new Uint8Array(total);
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

// Shortest text that reads back to the same double; "nan"/"inf" as C's printf writes them.
function numText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return Object.is(v, -0) ? '-0' : String(v);
}
