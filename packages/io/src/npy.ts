import type { File } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { DTYPES, bytesOf, checkNDArray, shapeSize, typedFromBytes, type DType, type NDArray, type TypedArray } from './ndarray.js';
import { checkMaxBytes, maxBytesOf, type DecodeOptions } from './limits.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ArrayReadOptions, type Source, type WriteOptions } from './source.js';

// NPY format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const FORMAT = 'NPY';
// numpy refuses headers above this size too (max_header_size), so a lying length fails fast.
const MAX_HEADER = 10_000;

const DESCR_OF: Record<DType, string> = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  float32: '<f4',
  float64: '<f8',
};
const DTYPE_OF_CODE: Record<string, DType> = {
  b1: 'bool',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  f4: 'float32',
  f8: 'float64',
};

export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Parses the descr string: byte order and type code. */
function parseDescr(descr: unknown, name: string): { dtype: DType; littleEndian: boolean } {
  if (typeof descr !== 'string') {
    throw new IoNotSupportedError(name, FORMAT, `structured dtype ${JSON.stringify(descr)} is not supported`);
  }
  const m = /^([<>|=]?)([a-zA-Z]\d*)$/.exec(descr);
  if (!m) throw new IoCorruptError(name, FORMAT, `bad descr ${JSON.stringify(descr)}`);
  const dtype = DTYPE_OF_CODE[m[2]];
  if (!dtype) throw new IoNotSupportedError(name, FORMAT, `dtype ${JSON.stringify(descr)} is not supported`);
  return { dtype, littleEndian: m[1] !== '>' };
}

export function decodeNpy(bytes: Uint8Array, name = BYTES_NAME, opts: DecodeOptions = {}): NDArray {
  const maxBytes = maxBytesOf(opts);
  if (bytes.length === 0) throw new IoCorruptError(name, FORMAT, 'empty file');
  if (!isNpy(bytes)) throw new IoCorruptError(name, FORMAT, 'bad magic (not a .npy file)');
  if (bytes.length < 10) throw new IoCorruptError(name, FORMAT, 'truncated header');
  const major = bytes[6];
  const minor = bytes[7];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new IoCorruptError(name, FORMAT, 'truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new IoNotSupportedError(name, FORMAT, `format version ${major}.${minor} is not supported`);
  }
  if (headerLen > MAX_HEADER) throw new IoCorruptError(name, FORMAT, `header length ${headerLen} is too large`);
  if (start + headerLen > bytes.length) {
    throw new IoCorruptError(name, FORMAT, `header claims ${headerLen} bytes, the file has ${bytes.length - start}`);
  }
  const headerBytes = bytes.subarray(start, start + headerLen);
  const header = major === 3 ? decodeUtf8(headerBytes, name) : latin1(headerBytes);
  const dict = parseHeaderDict(header, name);
  const { dtype, littleEndian } = parseDescr(dict.descr, name);
  const fortran = dict.fortran_order;
  if (typeof fortran !== 'boolean') throw new IoCorruptError(name, FORMAT, 'fortran_order must be True or False');
  const shape = dict.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) {
    throw new IoCorruptError(name, FORMAT, 'shape must be a tuple of integers');
  }
  const count = shapeSize(shape as number[]);
  if (count < 0) throw new IoCorruptError(name, FORMAT, `invalid shape (${shape.join(', ')})`);
  const dataStart = start + headerLen;
  const need = count * DTYPES[dtype].size;
  // Checked before allocating: a header cannot make us reserve more than the file holds.
  if (need > bytes.length - dataStart) {
    throw new IoCorruptError(
      name,
      FORMAT,
      `shape (${shape.join(', ')}) needs ${need} data bytes, the file has ${bytes.length - dataStart}`,
    );
  }
  checkMaxBytes(need, maxBytes, name, FORMAT, `shape (${shape.join(', ')})`);
  let data = typedFromBytes(dtype, bytes.subarray(dataStart, dataStart + need), littleEndian);
  if (dtype === 'bool') normalizeBool(data as Uint8Array);
  if (fortran && shape.length > 1) data = fortranToC(data, shape as number[]);
  return { dtype, shape: shape as number[], data };
}

/** numpy writes 0/1 but reads any non-zero byte as True. */
function normalizeBool(b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) if (b[i] > 1) b[i] = 1;
}

/** Reorders column-major data (first index fastest) into row-major order. */
function fortranToC<T extends TypedArray>(src: T, shape: number[]): T {
  const nd = shape.length;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  if (src.length === 0) return out;
  const fstride = new Array<number>(nd);
  let s = 1;
  for (let k = 0; k < nd; k++) {
    fstride[k] = s;
    s *= shape[k];
  }
  // Walk the output in C order with an odometer; the innermost axis has stride fstride[nd-1].
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1];
  const innerStride = fstride[nd - 1];
  let o = 0;
  for (;;) {
    let base = 0;
    for (let k = 0; k < nd - 1; k++) base += idx[k] * fstride[k];
    for (let j = 0; j < inner; j++) (out as TypedArray)[o++] = (src as TypedArray)[base + j * innerStride];
    let k = nd - 2;
    while (k >= 0) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
      k--;
    }
    if (k < 0) return out;
  }
}

/** The bytes numpy's `np.save` writes for this array (same header text, same padding). */
export function encodeNpy(arr: NDArray): Uint8Array {
  checkNDArray(arr);
  const shape = arr.shape;
  const shapeRepr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[arr.dtype]}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  // numpy leaves room to grow axis 0 in place (21 digits), then pads to a 64-byte boundary.
  if (shape.length > 0) header += ' '.repeat(Math.max(0, 21 - String(shape[0]).length));
  let pre = 10;
  let total = pre + header.length + 1;
  let version = 1;
  if (total + ((64 - (total % 64)) % 64) - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = pre + header.length + 1;
  }
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const data = bytesOf(arr.data);
  const out = new Uint8Array(pre + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(data, pre + header.length);
  return out;
}

export async function readNpy(src: Source, opts?: ArrayReadOptions): Promise<NDArray> {
  const { bytes, name } = await loadSource(src, opts);
  return decodeNpy(bytes, name, opts);
}

export async function writeNpy(file: File, arr: NDArray, ext = 'npy', opts?: WriteOptions): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, encodeNpy(arr), e, opts);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function decodeUtf8(b: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new IoCorruptError(name, FORMAT, 'header is not valid UTF-8');
  }
}

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

/**
 * Parses the header: a Python dict literal of strings, integers, True/False/None, tuples and
 * lists. Small and strict on purpose: it never evaluates anything.
 */
function parseHeaderDict(text: string, name: string): Record<string, PyValue> {
  let i = 0;
  const fail = (what: string): never => {
    throw new IoCorruptError(name, FORMAT, `bad header (${what} at ${i}): ${JSON.stringify(text.slice(0, 120))}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  let depth = 0;
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end');
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('escaped string');
      i = end + 1;
      return s;
    }
    if (c === '{' || c === '(' || c === '[') {
      if (++depth > 32) fail('nesting too deep');
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      // A null-prototype object: a '__proto__' key in a hostile header stays a plain key.
      const obj: Record<string, PyValue> = Object.create(null) as Record<string, PyValue>;
      const list: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          break;
        }
        if (c === '{') {
          const k = value();
          if (typeof k !== 'string') fail('non-string key');
          ws();
          if (text[i] !== ':') fail("expected ':'");
          i++;
          obj[k as string] = value();
        } else list.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
      depth--;
      return c === '{' ? obj : list;
    }
    const m = /^(?:True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    const n = Number(m[0].replace('L', ''));
    if (!Number.isSafeInteger(n)) fail('integer too large');
    return n;
  };
  ws();
  if (text[i] !== '{') fail("expected '{'");
  const d = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  const dict = d as Record<string, PyValue>;
  for (const k of ['descr', 'fortran_order', 'shape']) if (!(k in dict)) fail(`missing key '${k}'`);
  return dict;
}
