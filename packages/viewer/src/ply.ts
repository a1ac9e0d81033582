/**
 * A small PLY reader (ascii, binary little- and big-endian): vertex x, y, z, and when present
 * normals (nx, ny, nz) and colours (red, green, blue: uchar or float), faces as triangles (fans).
 * Runs in the worker (ply-worker.ts); it has no DOM and no three.js.
 */

export interface PlyData {
  positions: Float32Array;
  normals?: Float32Array;
  /** 0..1 */
  colors?: Float32Array;
  indices?: Uint32Array;
  vertexCount: number;
  faceCount: number;
}

type Scalar = 'char' | 'uchar' | 'short' | 'ushort' | 'int' | 'uint' | 'float' | 'double';

const ALIASES: Record<string, Scalar> = {
  char: 'char', int8: 'char', uchar: 'uchar', uint8: 'uchar',
  short: 'short', int16: 'short', ushort: 'ushort', uint16: 'ushort',
  int: 'int', int32: 'int', uint: 'uint', uint32: 'uint',
  float: 'float', float32: 'float', double: 'double', float64: 'double',
};
const SIZES: Record<Scalar, number> = { char: 1, uchar: 1, short: 2, ushort: 2, int: 4, uint: 4, float: 4, double: 8 };

interface Property {
  name: string;
  type: Scalar;
  /** For a list: the count's type. */
  countType?: Scalar;
}
interface Element {
  name: string;
  count: number;
  props: Property[];
}

function scalar(t: string | undefined): Scalar {
  const s = t && ALIASES[t];
  if (!s) throw new Error(`PLY: unknown type '${t}'`);
  return s;
}

function parseHeader(bytes: Uint8Array): { format: string; elements: Element[]; bodyStart: number } {
  // The header is ASCII and ends with "end_header\n" (or \r\n).
  const limit = Math.min(bytes.length, 65536);
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, limit));
  const m = /end_header\r?\n/.exec(head);
  if (!head.startsWith('ply') || !m) throw new Error('PLY: not a PLY file');
  const bodyStart = m.index + m[0].length;
  let format = '';
  const elements: Element[] = [];
  for (const raw of head.slice(0, m.index).split(/\r?\n/)) {
    const w = raw.trim().split(/\s+/);
    if (w[0] === 'format') format = w[1] ?? '';
    else if (w[0] === 'element') elements.push({ name: w[1] ?? '', count: Number(w[2]), props: [] });
    else if (w[0] === 'property') {
      const el = elements[elements.length - 1];
      if (!el) throw new Error('PLY: property before element');
      if (w[1] === 'list') el.props.push({ name: w[4] ?? '', type: scalar(w[3]), countType: scalar(w[2]) });
      else el.props.push({ name: w[2] ?? '', type: scalar(w[1]) });
    }
  }
  if (!['ascii', 'binary_little_endian', 'binary_big_endian'].includes(format)) throw new Error(`PLY: unknown format '${format}'`);
  return { format, elements, bodyStart };
}

function read(view: DataView, at: number, t: Scalar, le: boolean): number {
  switch (t) {
    case 'char': return view.getInt8(at);
    case 'uchar': return view.getUint8(at);
    case 'short': return view.getInt16(at, le);
    case 'ushort': return view.getUint16(at, le);
    case 'int': return view.getInt32(at, le);
    case 'uint': return view.getUint32(at, le);
    case 'float': return view.getFloat32(at, le);
    case 'double': return view.getFloat64(at, le);
  }
}

export function parsePly(buffer: ArrayBuffer): PlyData {
  const bytes = new Uint8Array(buffer);
  const { format, elements, bodyStart } = parseHeader(bytes);
  const vertex = elements.find((e) => e.name === 'vertex');
  if (!vertex) throw new Error('PLY: no vertex element');
  const face = elements.find((e) => e.name === 'face');
  const n = vertex.count;
  const idx = (name: string) => vertex.props.findIndex((p) => p.name === name);
  const [ix, iy, iz] = [idx('x'), idx('y'), idx('z')];
  if (ix < 0 || iy < 0 || iz < 0) throw new Error('PLY: vertices have no x, y, z');
  const [inx, iny, inz] = [idx('nx'), idx('ny'), idx('nz')];
  const [ir, ig, ib] = [idx('red'), idx('green'), idx('blue')].map((i, k) => (i >= 0 ? i : idx(['r', 'g', 'b'][k]!)));
  const hasNormals = inx >= 0 && iny >= 0 && inz >= 0;
  const hasColors = ir! >= 0 && ig! >= 0 && ib! >= 0;
  const colorScale = hasColors && vertex.props[ir!]!.type === 'uchar' ? 1 / 255 : hasColors && vertex.props[ir!]!.type === 'ushort' ? 1 / 65535 : 1;
  const positions = new Float32Array(n * 3);
  const normals = hasNormals ? new Float32Array(n * 3) : undefined;
  const colors = hasColors ? new Float32Array(n * 3) : undefined;
  const tris: number[] = [];
  const rowValues = new Float64Array(vertex.props.length);

  const storeVertex = (i: number) => {
    positions[i * 3] = rowValues[ix]!;
    positions[i * 3 + 1] = rowValues[iy]!;
    positions[i * 3 + 2] = rowValues[iz]!;
    if (normals) {
      normals[i * 3] = rowValues[inx]!;
      normals[i * 3 + 1] = rowValues[iny]!;
      normals[i * 3 + 2] = rowValues[inz]!;
    }
    if (colors) {
      colors[i * 3] = rowValues[ir!]! * colorScale;
      colors[i * 3 + 1] = rowValues[ig!]! * colorScale;
      colors[i * 3 + 2] = rowValues[ib!]! * colorScale;
    }
  };
  const storeFace = (poly: number[]) => {
    for (let k = 1; k + 1 < poly.length; k++) tris.push(poly[0]!, poly[k]!, poly[k + 1]!);
  };

  if (format === 'ascii') {
    const text = new TextDecoder().decode(bytes.subarray(bodyStart));
    const tokens = text.split(/\s+/).filter(Boolean);
    let t = 0;
    for (const el of elements) {
      for (let r = 0; r < el.count; r++) {
        if (el === vertex) {
          for (let p = 0; p < el.props.length; p++) {
            const prop = el.props[p]!;
            if (prop.countType) {
              t += Number(tokens[t]) + 1;
              rowValues[p] = 0;
            } else rowValues[p] = Number(tokens[t++]);
          }
          storeVertex(r);
        } else {
          for (const prop of el.props) {
            if (prop.countType) {
              const c = Number(tokens[t++]);
              const list = tokens.slice(t, t + c).map(Number);
              t += c;
              if (el === face && /^vertex_ind(ex|ices)$/.test(prop.name)) storeFace(list);
            } else t++;
          }
        }
      }
    }
  } else {
    const le = format === 'binary_little_endian';
    const view = new DataView(buffer);
    let at = bodyStart;
    for (const el of elements) {
      const fixed = el.props.every((p) => !p.countType);
      for (let r = 0; r < el.count; r++) {
        if (el !== vertex && el !== face && fixed) {
          at += el.props.reduce((s, p) => s + SIZES[p.type], 0) * (el.count - r);
          break;
        }
        for (let p = 0; p < el.props.length; p++) {
          const prop = el.props[p]!;
          if (prop.countType) {
            const c = read(view, at, prop.countType, le);
            at += SIZES[prop.countType];
            if (el === face && /^vertex_ind(ex|ices)$/.test(prop.name)) {
              const poly: number[] = new Array(c);
              for (let k = 0; k < c; k++) poly[k] = read(view, at + k * SIZES[prop.type], prop.type, le);
              storeFace(poly);
            }
            at += c * SIZES[prop.type];
          } else {
            if (el === vertex) rowValues[p] = read(view, at, prop.type, le);
            at += SIZES[prop.type];
          }
        }
        if (el === vertex) storeVertex(r);
      }
    }
  }
  return { positions, normals, colors, indices: tris.length ? Uint32Array.from(tris) : undefined, vertexCount: n, faceCount: face?.count ?? 0 };
}
