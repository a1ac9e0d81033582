import { InvalidArgumentError } from '@romi/db-core';

export type DType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** An n-dimensional array in C (row-major) order. `bool` data is a Uint8Array of 0 and 1. */
export interface NDArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export const DTYPES: Record<DType, { ctor: TypedArrayCtor; size: number; kind: 'b' | 'i' | 'u' | 'f' }> = {
  bool: { ctor: Uint8Array, size: 1, kind: 'b' },
  int8: { ctor: Int8Array, size: 1, kind: 'i' },
  uint8: { ctor: Uint8Array, size: 1, kind: 'u' },
  int16: { ctor: Int16Array, size: 2, kind: 'i' },
  uint16: { ctor: Uint16Array, size: 2, kind: 'u' },
  int32: { ctor: Int32Array, size: 4, kind: 'i' },
  uint32: { ctor: Uint32Array, size: 4, kind: 'u' },
  int64: { ctor: BigInt64Array, size: 8, kind: 'i' },
  uint64: { ctor: BigUint64Array, size: 8, kind: 'u' },
  float32: { ctor: Float32Array, size: 4, kind: 'f' },
  float64: { ctor: Float64Array, size: 8, kind: 'f' },
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, x);
}

/** The number of elements of `shape`, or -1 when a dimension is not a non-negative safe integer. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return -1;
    n *= d;
    if (!Number.isSafeInteger(n)) return -1;
  }
  return n;
}

/** A zero-filled array, or one wrapping `data` (checked against dtype and shape). */
export function ndarray(dtype: DType, shape: number[], data?: TypedArray): NDArray {
  const arr: NDArray = { dtype, shape: [...shape], data: data ?? allocate(dtype, shape) };
  checkNDArray(arr);
  return arr;
}

function allocate(dtype: DType, shape: number[]): TypedArray {
  const n = shapeSize(shape);
  if (!isDType(dtype)) throw new InvalidArgumentError(`Unknown dtype ${JSON.stringify(dtype)}`);
  if (n < 0) throw new InvalidArgumentError(`Invalid shape ${JSON.stringify(shape)}`);
  return new DTYPES[dtype].ctor(n);
}

/** Throws InvalidArgumentError unless `arr` is a consistent NDArray (what writers accept). */
export function checkNDArray(arr: unknown, what = 'array'): asserts arr is NDArray {
  if (typeof arr !== 'object' || arr === null) throw new InvalidArgumentError(`${what} must be an NDArray object`);
  const { dtype, shape, data } = arr as Partial<NDArray>;
  if (!isDType(dtype)) throw new InvalidArgumentError(`${what}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) throw new InvalidArgumentError(`${what}: shape must be an array of integers`);
  const n = shapeSize(shape);
  if (n < 0) throw new InvalidArgumentError(`${what}: invalid shape ${JSON.stringify(shape)}`);
  const ctor = DTYPES[dtype].ctor;
  if (!(data instanceof ctor)) {
    throw new InvalidArgumentError(`${what}: dtype ${dtype} needs data of type ${ctor.name}`);
  }
  if (data.length !== n) {
    throw new InvalidArgumentError(`${what}: shape ${JSON.stringify(shape)} holds ${n} values, data has ${data.length}`);
  }
}

/** The array's bytes in little-endian order, without copying when the host is little-endian. */
export function bytesOf(data: TypedArray): Uint8Array {
  if (!LITTLE_ENDIAN_HOST && data.BYTES_PER_ELEMENT > 1) {
    const out = new Uint8Array(data.byteLength);
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    swapBytes(out, data.BYTES_PER_ELEMENT);
    return out;
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses every `size`-byte group in place (endianness conversion). */
export function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  const n = b.length - (b.length % size);
  for (let i = 0; i < n; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

/**
 * A typed array of `dtype` holding a copy of `src` (raw bytes in the given byte order).
 * The copy also aligns the data, which views on a file's bytes rarely are.
 */
export function typedFromBytes(dtype: DType, src: Uint8Array, littleEndian: boolean): TypedArray {
  const { ctor, size } = DTYPES[dtype];
  const copy = new Uint8Array(src.length);
  copy.set(src);
  if (littleEndian !== LITTLE_ENDIAN_HOST) swapBytes(copy, size);
  return new ctor(copy.buffer, 0, src.length / size);
}
