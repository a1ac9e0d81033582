import { InvalidArgumentError, type File } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import {
  decodePly,
  decodePlyBody,
  encodePly,
  parsePlyHeader,
  type ListSink,
  type PlyColumn,
  type PlyData,
  type PlyElement,
  type PlyElementData,
  type PlyFormat,
  type PlyHeader,
  type PlyListColumn,
  type PlyPlan,
  type PlyType,
  type ScalarSink,
} from './ply.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ReadOptions, type Source, type WriteOptions } from './source.js';

/** N points, row-major N×3. Colours are 8-bit RGB. */
export interface PointCloud {
  points: Float64Array;
  normals?: Float64Array;
  colors?: Uint8Array;
}
/** Vertices N×3, triangles M×3 vertex indices; normals and colours are per vertex. */
export interface TriangleMesh {
  vertices: Float64Array;
  triangles: Uint32Array;
  normals?: Float64Array;
  colors?: Uint8Array;
}

export interface PlyWriteOptions extends WriteOptions {
  /** Default binary_little_endian, what Open3D writes. */
  format?: PlyFormat;
  /** Header comment lines. Default: one line naming romidb as the writer. */
  comments?: string[];
}

const FORMAT = 'PLY';
export const DEFAULT_PLY_COMMENT = 'Created by romidb @romi/io';

const COLOUR_NAMES = [
  ['red', 'green', 'blue'],
  ['diffuse_red', 'diffuse_green', 'diffuse_blue'],
  ['r', 'g', 'b'],
];

/** How a colour channel of any PLY type becomes a byte, as Open3D scales it. */
function colourConversion(type: PlyType): ((v: number) => number) | undefined {
  switch (type) {
    case 'uint8':
      return undefined;
    case 'float32':
    case 'float64':
      return (v) => (v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0);
    case 'uint16':
      return (v) => Math.round(v / 257);
    default:
      return (v) => (v > 0 ? (v < 255 ? v : 255) : 0);
  }
}

function vertexPlan(el: PlyElement, name: string, plan: PlyPlan): { points: Float64Array; normals?: Float64Array; colors?: Uint8Array } {
  const has = (n: string) => el.properties.find((p) => p.name === n && !p.countType);
  const n = el.count;
  const sinks: Record<string, ScalarSink> = {};
  if (!has('x') || !has('y') || !has('z')) throw new IoCorruptError(name, FORMAT, 'the vertex element has no x, y, z properties');
  const points = new Float64Array(n * 3);
  ['x', 'y', 'z'].forEach((p, k) => (sinks[p] = { out: points, stride: 3, offset: k }));
  let normals: Float64Array | undefined;
  if (has('nx') && has('ny') && has('nz')) {
    normals = new Float64Array(n * 3);
    ['nx', 'ny', 'nz'].forEach((p, k) => (sinks[p] = { out: normals!, stride: 3, offset: k }));
  }
  let colors: Uint8Array | undefined;
  const names = COLOUR_NAMES.find((c) => c.every((p) => has(p)));
  if (names) {
    colors = new Uint8Array(n * 3);
    names.forEach((p, k) => (sinks[p] = { out: colors!, stride: 3, offset: k, convert: colourConversion(has(p)!.type) }));
  }
  plan.vertex = sinks;
  return { points, normals, colors };
}

function header(bytes: Uint8Array, name: string): { h: PlyHeader; vertex: PlyElement } {
  const h = parsePlyHeader(bytes, name);
  const vertex = h.elements.find((e) => e.name === 'vertex');
  if (!vertex) throw new IoCorruptError(name, FORMAT, 'no vertex element');
  return { h, vertex };
}

export function decodePointCloud(bytes: Uint8Array, name = BYTES_NAME): PointCloud {
  const { h, vertex } = header(bytes, name);
  const plan: PlyPlan = {};
  const { points, normals, colors } = vertexPlan(vertex, name, plan);
  decodePlyBody(bytes, h, plan, name);
  const pc: PointCloud = { points };
  if (normals) pc.normals = normals;
  if (colors) pc.colors = colors;
  return pc;
}

export function decodeTriangleMesh(bytes: Uint8Array, name = BYTES_NAME): TriangleMesh {
  const { h, vertex } = header(bytes, name);
  const plan: PlyPlan = {};
  const { points, normals, colors } = vertexPlan(vertex, name, plan);
  const face = h.elements.find((e) => e.name === 'face');
  const listProp = face?.properties.find((p) => p.countType && (p.name === 'vertex_indices' || p.name === 'vertex_index'));
  if (face && !listProp) throw new IoCorruptError(name, FORMAT, 'the face element has no vertex_indices list');
  const faces: ListSink = { list: true };
  if (face && listProp) plan.face = { [listProp.name]: faces };
  decodePlyBody(bytes, h, plan, name);
  const triangles = faces.result ? triangulate(faces.result.offsets, faces.result.values, vertex.count, name) : new Uint32Array(0);
  const mesh: TriangleMesh = { vertices: points, triangles };
  if (normals) mesh.normals = normals;
  if (colors) mesh.colors = colors;
  return mesh;
}

/**
 * Faces to triangles: polygons are split as fans from their first vertex (as Open3D does);
 * faces of fewer than 3 vertices are dropped. Indices are checked against the vertex count.
 */
function triangulate(offsets: Uint32Array, values: ArrayLike<number>, nVertices: number, name: string): Uint32Array {
  const nFaces = offsets.length - 1;
  let nTri = 0;
  for (let f = 0; f < nFaces; f++) {
    const k = offsets[f + 1] - offsets[f];
    if (k >= 3) nTri += k - 2;
  }
  const tri = new Uint32Array(nTri * 3);
  let t = 0;
  for (let f = 0; f < nFaces; f++) {
    const a = offsets[f];
    const k = offsets[f + 1] - a;
    for (let j = 0; j < k; j++) {
      const v = values[a + j];
      if (!(v >= 0 && v < nVertices) || v !== Math.floor(v)) {
        throw new IoCorruptError(name, FORMAT, `face ${f} refers to vertex ${v}, there are ${nVertices}`);
      }
    }
    for (let j = 1; j + 1 < k; j++) {
      tri[t++] = values[a];
      tri[t++] = values[a + j];
      tri[t++] = values[a + j + 1];
    }
  }
  return tri;
}

function checkXYZ(a: unknown, what: string, n?: number): asserts a is Float64Array | Float32Array {
  if (!(a instanceof Float64Array || a instanceof Float32Array)) throw new InvalidArgumentError(`${what} must be a Float64Array (N×3)`);
  if (a.length % 3 !== 0) throw new InvalidArgumentError(`${what} has ${a.length} values, not a multiple of 3`);
  if (n !== undefined && a.length !== n * 3) throw new InvalidArgumentError(`${what} has ${a.length / 3} rows, expected ${n}`);
}

function vertexColumns(points: ArrayLike<number>, normals?: ArrayLike<number>, colors?: ArrayLike<number>): PlyColumn[] {
  const cols: PlyColumn[] = [];
  ['x', 'y', 'z'].forEach((name, k) => cols.push({ name, type: 'float64', data: points, stride: 3, offset: k }));
  if (normals) ['nx', 'ny', 'nz'].forEach((name, k) => cols.push({ name, type: 'float64', data: normals, stride: 3, offset: k }));
  if (colors) ['red', 'green', 'blue'].forEach((name, k) => cols.push({ name, type: 'uint8', data: colors, stride: 3, offset: k }));
  return cols;
}

function checkVertexData(points: unknown, normals: unknown, colors: unknown, what: string): number {
  checkXYZ(points, `${what}`);
  const n = points.length / 3;
  if (normals !== undefined) checkXYZ(normals, 'normals', n);
  if (colors !== undefined) {
    if (!(colors instanceof Uint8Array)) throw new InvalidArgumentError('colors must be a Uint8Array (N×3, 0-255)');
    if (colors.length !== n * 3) throw new InvalidArgumentError(`colors has ${colors.length / 3} rows, expected ${n}`);
  }
  return n;
}

/** A PLY file laid out as Open3D's write_point_cloud lays it out (double xyz, normals, uchar colours). */
export function encodePointCloud(pc: PointCloud, opts: { format?: PlyFormat; comments?: string[] } = {}): Uint8Array {
  if (typeof pc !== 'object' || pc === null) throw new InvalidArgumentError('pc must be a PointCloud');
  const n = checkVertexData(pc.points, pc.normals, pc.colors, 'points');
  const els: PlyElementData[] = [{ name: 'vertex', count: n, columns: vertexColumns(pc.points, pc.normals, pc.colors) }];
  return encodePly(els, { format: opts.format, comments: opts.comments ?? [DEFAULT_PLY_COMMENT] });
}

/** A PLY file laid out as Open3D's write_triangle_mesh lays it out (faces as list uchar uint). */
export function encodeTriangleMesh(mesh: TriangleMesh, opts: { format?: PlyFormat; comments?: string[] } = {}): Uint8Array {
  if (typeof mesh !== 'object' || mesh === null) throw new InvalidArgumentError('mesh must be a TriangleMesh');
  const n = checkVertexData(mesh.vertices, mesh.normals, mesh.colors, 'vertices');
  const tri = mesh.triangles;
  if (!(tri instanceof Uint32Array)) throw new InvalidArgumentError('triangles must be a Uint32Array (M×3)');
  if (tri.length % 3 !== 0) throw new InvalidArgumentError(`triangles has ${tri.length} values, not a multiple of 3`);
  for (let i = 0; i < tri.length; i++) {
    if (tri[i] >= n) throw new InvalidArgumentError(`triangle ${Math.floor(i / 3)} refers to vertex ${tri[i]}, there are ${n}`);
  }
  const face: PlyListColumn = { name: 'vertex_indices', countType: 'uint8', type: 'uint32', size: 3, data: tri };
  const els: PlyElementData[] = [
    { name: 'vertex', count: n, columns: vertexColumns(mesh.vertices, mesh.normals, mesh.colors) },
    { name: 'face', count: tri.length / 3, columns: [face] },
  ];
  return encodePly(els, { format: opts.format, comments: opts.comments ?? [DEFAULT_PLY_COMMENT] });
}

export async function readPointCloud(src: Source, opts?: ReadOptions): Promise<PointCloud> {
  const { bytes, name } = await loadSource(src, opts);
  return decodePointCloud(bytes, name);
}

export async function readTriangleMesh(src: Source, opts?: ReadOptions): Promise<TriangleMesh> {
  const { bytes, name } = await loadSource(src, opts);
  return decodeTriangleMesh(bytes, name);
}

/** Every element and property of a PLY file (extra properties included), as typed arrays. */
export async function readPly(src: Source, opts?: ReadOptions): Promise<PlyData> {
  const { bytes, name } = await loadSource(src, opts);
  return decodePly(bytes, name);
}

function plyExt(ext: string): string {
  const e = normalizeExt(ext);
  if (e !== 'ply') throw new IoNotSupportedError(`.${e}`, FORMAT, 'point clouds and meshes are written as .ply only');
  return e;
}

export async function writePointCloud(file: File, pc: PointCloud, ext = 'ply', opts: PlyWriteOptions = {}): Promise<void> {
  const e = plyExt(ext);
  await saveToFile(file, encodePointCloud(pc, opts), e, opts);
}

export async function writeTriangleMesh(file: File, mesh: TriangleMesh, ext = 'ply', opts: PlyWriteOptions = {}): Promise<void> {
  const e = plyExt(ext);
  await saveToFile(file, encodeTriangleMesh(mesh, opts), e, opts);
}
