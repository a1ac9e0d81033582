import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PLY_COMMENT,
  decodePly,
  decodePointCloud,
  decodeTriangleMesh,
  encodePly,
  encodePointCloud,
  encodeTriangleMesh,
  parsePlyHeader,
  readPly,
  readPointCloud,
  readTriangleMesh,
  writePointCloud,
  writeTriangleMesh,
  type PlyFormat,
  type PlyList,
  type PointCloud,
  type TriangleMesh,
} from '../src/index.js';
import { BytesFile, REAL, binPly, fixture, romiError, sameBytes, type V } from './helpers.js';

const enc = new TextEncoder();

function bbox(points: Float64Array): number[][] {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < points.length; i++) {
    lo[i % 3] = Math.min(lo[i % 3], points[i]);
    hi[i % 3] = Math.max(hi[i % 3], points[i]);
  }
  return [lo, hi];
}

describe('PLY: real files', () => {
  it('romicgal PointCloud.ply: 57,890 points with normals, inside the real_plant workspace', async () => {
    const pc = await readPointCloud(`${REAL}PointCloud.ply`);
    expect(pc.points.length).toBe(57890 * 3);
    expect(pc.normals!.length).toBe(57890 * 3);
    expect(pc.colors).toBeUndefined();
    const [lo, hi] = bbox(pc.points);
    // README: x [349.7, 428.8], y [343.7, 402.3], z [-175.2, 100.3]
    [349.7, 343.7, -175.2].forEach((v, k) => expect(lo[k]).toBeCloseTo(v, 1));
    [428.8, 402.3, 100.3].forEach((v, k) => expect(hi[k]).toBeCloseTo(v, 1));
    // normals are unit vectors
    const n = pc.normals!;
    for (let i = 0; i < n.length; i += 3 * 997) expect(Math.hypot(n[i], n[i + 1], n[i + 2])).toBeCloseTo(1, 6);
  });
  it('romicgal TriangleMesh.ply: vertices, normals, colours and 56,716 triangles', async () => {
    const m = await readTriangleMesh(`${REAL}TriangleMesh.ply`);
    expect(m.vertices.length).toBe(28360 * 3);
    expect(m.normals!.length).toBe(28360 * 3);
    expect(m.colors!.length).toBe(28360 * 3);
    expect(m.triangles.length).toBe(56716 * 3);
    expect(Math.max(...m.triangles.subarray(0, 30000))).toBeLessThan(28360);
  });
  it('the 2019 romicgal mesh: xyz only', async () => {
    const m = await readTriangleMesh(`${REAL}romicgal_mesh_2019.ply`);
    expect([m.vertices.length / 3, m.triangles.length / 3]).toEqual([3970, 7946]);
    expect(m.normals).toBeUndefined();
    expect(m.colors).toBeUndefined();
  });
  it('RL_NBV vplant_rec.ply: a coloured cloud with normals', async () => {
    const pc = await readPointCloud(`${REAL}vplant_rec.ply`);
    expect(pc.points.length).toBe(9207 * 3);
    expect(pc.normals!.length).toBe(9207 * 3);
    expect(pc.colors!.length).toBe(9207 * 3);
    // five label colours; most points are green (stem and leaves)
    const counts = new Map<string, number>();
    for (let i = 0; i < pc.colors!.length; i += 3) {
      const k = pc.colors!.subarray(i, i + 3).join(',');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(5);
    expect(counts.get('0,255,0')).toBe(8394);
  });
  it('Blender ASCII cylinder.ply: float xyz + normals, triangles and quads', async () => {
    const m = await readTriangleMesh(`${REAL}cylinder.ply`);
    expect(m.vertices.length).toBe(192 * 3);
    // 60 triangles + 32 quads split in two
    expect(m.triangles.length).toBe((60 + 64) * 3);
    expect(Array.from(m.vertices.subarray(0, 3))).toEqual([0.362224, -0.191377, 0.000034]);
    expect(Array.from(m.normals!.subarray(0, 3))).toEqual([0.098017, 0.995185, 0]);
    const pc = await readPointCloud(`${REAL}cylinder.ply`);
    expect(pc.points).toEqual(m.vertices);
    const raw = decodePly(fixture('real/cylinder.ply'));
    expect(raw.header.format).toBe('ascii');
    expect(raw.header.comments[0]).toMatch(/^Created by Blender 2.79/);
    const faces = raw.elements.face.properties.vertex_indices as PlyList;
    expect(faces.offsets.length).toBe(93);
  });
  it('a point cloud can be read from a mesh file and a mesh from a cloud (no faces)', async () => {
    const pc = await readPointCloud(`${REAL}TriangleMesh.ply`);
    expect(pc.points.length).toBe(28360 * 3);
    const m = await readTriangleMesh(`${REAL}vplant_rec.ply`);
    expect(m.triangles.length).toBe(0);
  });
});

describe('PLY: writing like Open3D', () => {
  const real = ['PointCloud.ply', 'vplant_rec.ply', 'TriangleMesh.ply', 'romicgal_mesh_2019.ply'];
  for (const f of real) {
    it(`re-encodes ${f} byte for byte (with Open3D's comment)`, () => {
      const orig = fixture(`real/${f}`);
      const isMesh = f.includes('Mesh') || f.includes('mesh');
      const out = isMesh
        ? encodeTriangleMesh(decodeTriangleMesh(orig), { comments: ['Created by Open3D'] })
        : encodePointCloud(decodePointCloud(orig), { comments: ['Created by Open3D'] });
      expect(out.length).toBe(orig.length);
      expect(sameBytes(out, orig)).toBe(true);
    });
  }
  it('writes the same header as Open3D, but for the comment naming the writer', () => {
    const orig = fixture('real/TriangleMesh.ply');
    const out = encodeTriangleMesh(decodeTriangleMesh(orig));
    const h1 = parsePlyHeader(orig);
    const h2 = parsePlyHeader(out);
    expect(h2.comments).toEqual([DEFAULT_PLY_COMMENT]);
    expect({ ...h2, comments: [], headerLength: 0 }).toEqual({ ...h1, comments: [], headerLength: 0 });
    const text = new TextDecoder().decode(out.subarray(0, h2.headerLength));
    expect(text).toBe(
      'ply\nformat binary_little_endian 1.0\ncomment Created by romidb @romi/io\nelement vertex 28360\n' +
        'property double x\nproperty double y\nproperty double z\nproperty double nx\nproperty double ny\nproperty double nz\n' +
        'property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 56716\n' +
        'property list uchar uint vertex_indices\nend_header\n',
    );
  });
  it('writes through a File with extension ply', async () => {
    const f = new BytesFile('cloud');
    const pc: PointCloud = { points: new Float64Array([1, 2, 3]) };
    await writePointCloud(f.asFile(), pc);
    expect(f.filename).toBe('cloud.ply');
    expect(await readPointCloud(f.asFile())).toEqual(pc);
    const mesh: TriangleMesh = { vertices: new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0]), triangles: new Uint32Array([0, 1, 2]) };
    await writeTriangleMesh(f.asFile(), mesh);
    expect(await readTriangleMesh(f.asFile())).toEqual(mesh);
    expect((await romiError(() => writePointCloud(f.asFile(), pc, 'obj'))).code).toBe('ROMI_NOT_SUPPORTED');
  });
  it('refuses inconsistent clouds and meshes', async () => {
    const f = new BytesFile();
    const bad: unknown[] = [
      { points: new Float64Array(4) },
      { points: [1, 2, 3] },
      { points: new Float64Array(3), normals: new Float64Array(6) },
      { points: new Float64Array(3), colors: new Float64Array(3) },
    ];
    for (const pc of bad) expect((await romiError(() => writePointCloud(f.asFile(), pc as PointCloud))).code).toBe('ROMI_INVALID_ARGUMENT');
    const badMesh = { vertices: new Float64Array(6), triangles: new Uint32Array([0, 1, 2]) };
    expect((await romiError(() => writeTriangleMesh(f.asFile(), badMesh))).code).toBe('ROMI_INVALID_ARGUMENT');
    expect(f.writes).toBe(0);
  });
});

describe('PLY: round trips', () => {
  const pts = new Float64Array([1.5, -2.25, 3e-300, Math.PI, -0, 1e300, 0.1, 0.2, 0.3]);
  const normals = new Float64Array([0, 0, 1, 0, 1, 0, 1, 0, 0]);
  const colors = new Uint8Array([255, 0, 0, 0, 255, 0, 1, 2, 3]);
  const clouds: PointCloud[] = [{ points: pts }, { points: pts, normals }, { points: pts, colors }, { points: pts, normals, colors }, { points: new Float64Array(0) }];
  for (const format of ['binary_little_endian', 'binary_big_endian', 'ascii'] as PlyFormat[]) {
    it(`point clouds, ${format}`, () => {
      for (const pc of clouds) expect(decodePointCloud(encodePointCloud(pc, { format }))).toEqual(pc);
    });
    it(`triangle meshes, ${format}`, () => {
      const mesh: TriangleMesh = { vertices: pts, normals, colors, triangles: new Uint32Array([0, 1, 2, 2, 1, 0]) };
      expect(decodeTriangleMesh(encodeTriangleMesh(mesh, { format }))).toEqual(mesh);
      const empty: TriangleMesh = { vertices: new Float64Array(0), triangles: new Uint32Array(0) };
      expect(decodeTriangleMesh(encodeTriangleMesh(empty, { format }))).toEqual(empty);
    });
  }
  it('ASCII keeps nan and inf', () => {
    const pc = { points: new Float64Array([NaN, Infinity, -Infinity]) };
    expect(decodePointCloud(encodePointCloud(pc, { format: 'ascii' }))).toEqual(pc);
  });
});

describe('PLY: any vertex and face layout', () => {
  const types: Array<[string, V[0], number[]]> = [
    ['char', 'i8', [-128, 127, 5]],
    ['uchar', 'u8', [0, 255, 7]],
    ['short', 'i16', [-32768, 32767, 1]],
    ['ushort', 'u16', [0, 65535, 2]],
    ['int', 'i32', [-(2 ** 31), 2 ** 31 - 1, 3]],
    ['uint', 'u32', [0, 2 ** 32 - 1, 4]],
    ['float', 'f32', [0.5, -1.25, 3]],
    ['double', 'f64', [0.1, -1e-300, 1e300]],
    ['float32', 'f32', [1, 2, 3]],
    ['int16', 'i16', [1, 2, 3]],
  ];
  for (const le of [true, false]) {
    for (const [word, t, xyz] of types) {
      it(`${word} x,y,z, ${le ? 'little' : 'big'}-endian, with extra properties kept by readPly`, async () => {
        const b = binPly(
          `element vertex 2\nproperty ${word} x\nproperty uchar flag\nproperty ${word} y\nproperty ${word} z\nproperty double confidence`,
          [[t, xyz[0]], ['u8', 9], [t, xyz[1]], [t, xyz[2]], ['f64', 0.75], [t, xyz[2]], ['u8', 8], [t, xyz[1]], [t, xyz[0]], ['f64', -1]],
          le,
        );
        const pc = decodePointCloud(b);
        expect(Array.from(pc.points)).toEqual([...xyz, xyz[2], xyz[1], xyz[0]]);
        const all = await readPly(b);
        expect(Array.from(all.elements.vertex.properties.flag as Uint8Array)).toEqual([9, 8]);
        expect(Array.from(all.elements.vertex.properties.confidence as Float64Array)).toEqual([0.75, -1]);
      });
    }
  }
  it('float and ushort colours are scaled to bytes; other colour names are recognised', () => {
    const f = binPly(
      'element vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty float red\nproperty float green\nproperty float blue',
      [['f32', 0], ['f32', 0], ['f32', 0], ['f32', 1], ['f32', 0.5], ['f32', -3]],
    );
    expect(Array.from(decodePointCloud(f).colors!)).toEqual([255, 128, 0]);
    const u = binPly(
      'element vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty ushort diffuse_red\nproperty ushort diffuse_green\nproperty ushort diffuse_blue',
      [['f32', 0], ['f32', 0], ['f32', 0], ['u16', 65535], ['u16', 257], ['u16', 0]],
    );
    expect(Array.from(decodePointCloud(u).colors!)).toEqual([255, 1, 0]);
  });
  const faceLayouts: Array<[string, V[0], V[0]]> = [
    ['uchar uint', 'u8', 'u32'],
    ['uchar int', 'u8', 'i32'],
    ['int int', 'i32', 'i32'],
    ['uint uint', 'u32', 'u32'],
    ['ushort ushort', 'u16', 'u16'],
    ['uint8 int32', 'u8', 'i32'],
    ['char uchar', 'i8', 'u8'],
  ];
  for (const le of [true, false]) {
    for (const [words, ct, it_] of faceLayouts) {
      it(`faces as list ${words}, ${le ? 'LE' : 'BE'}, polygons split into triangles, other elements skipped`, () => {
        const verts: V[] = [];
        for (let i = 0; i < 5; i++) verts.push(['f32', i], ['f32', 0], ['f32', 0]);
        const faces: V[] = [[ct, 3], [it_, 0], [it_, 1], [it_, 2], ['u8', 1], [ct, 5], [it_, 0], [it_, 1], [it_, 2], [it_, 3], [it_, 4], ['u8', 2], [ct, 2], [it_, 4], [it_, 3], ['u8', 3]];
        const edges: V[] = [['i32', 0], ['i32', 1], ['i32', 1], ['i32', 2]];
        const b = binPly(
          `element vertex 5\nproperty float x\nproperty float y\nproperty float z\n` +
            `element face 3\nproperty list ${words} vertex_index\nproperty uchar material\n` +
            `element edge 2\nproperty int vertex1\nproperty int vertex2`,
          [...verts, ...faces, ...edges],
          le,
        );
        const m = decodeTriangleMesh(b);
        expect(Array.from(m.triangles)).toEqual([0, 1, 2, 0, 1, 2, 0, 2, 3, 0, 3, 4]);
        const all = decodePly(b);
        expect(Array.from(all.elements.face.properties.material as Uint8Array)).toEqual([1, 2, 3]);
        expect(Array.from(all.elements.edge.properties.vertex2 as Int32Array)).toEqual([1, 2]);
        const list = all.elements.face.properties.vertex_index as PlyList;
        expect(Array.from(list.offsets)).toEqual([0, 3, 8, 10]);
      });
    }
  }
  it('ASCII with CRLF line ends, comments, obj_info and extra elements', () => {
    const text =
      'ply\r\nformat ascii 1.0\r\ncomment hello\r\nobj_info made by hand\r\nelement vertex 3\r\nproperty float x\r\nproperty float y\r\n' +
      'property float z\r\nproperty uchar red\r\nproperty uchar green\r\nproperty uchar blue\r\nproperty float quality\r\n' +
      'element face 1\r\nproperty list uchar int vertex_indices\r\nelement material 1\r\nproperty float shine\r\nend_header\r\n' +
      '0 0 0 255 0 0 0.5\r\n1 0 0 0 255 0 1e-3\r\n0 1 0 0 0 255 -2E+2\r\n3 0 1 2\r\n0.25\r\n';
    const b = enc.encode(text);
    const m = decodeTriangleMesh(b);
    expect(Array.from(m.vertices)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0]);
    expect(Array.from(m.colors!)).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255]);
    expect(Array.from(m.triangles)).toEqual([0, 1, 2]);
    const all = decodePly(b);
    expect(all.header.comments).toEqual(['hello']);
    expect(all.header.objInfo).toEqual(['made by hand']);
    expect(Array.from(all.elements.vertex.properties.quality as Float32Array)).toEqual([0.5, Math.fround(1e-3), -200]);
  });
  it('ASCII numbers parse exactly, long and exotic ones included', () => {
    const vals = ['0.1', '-0.30000000000000004', '123456789012345678', '1e-320', '2.2250738585072014e-308', '.5', '5.', '+7', '-0', '1E22', '9007199254740993'];
    const text = `ply\nformat ascii 1.0\nelement vertex ${vals.length}\nproperty double x\nproperty double y\nproperty double z\nend_header\n${vals
      .map((v) => `${v} 0 0`)
      .join('\n')}\n`;
    const pc = decodePointCloud(enc.encode(text));
    vals.forEach((v, i) => expect(Object.is(pc.points[3 * i], Number(v))).toBe(true));
  });
});

describe('PLY: memory stays proportional to the data', () => {
  it('reads a 10-million-point cloud into typed arrays with no per-point objects', () => {
    const n = 10_000_000;
    const pts = new Float32Array(n * 3);
    for (let i = 0; i < pts.length; i++) pts[i] = i % 1024;
    const file = encodePly([
      { name: 'vertex', count: n, columns: ['x', 'y', 'z'].map((name, k) => ({ name, type: 'float32' as const, data: pts, stride: 3, offset: k })) },
    ]);
    const heap0 = process.memoryUsage().heapUsed;
    const pc = decodePointCloud(file);
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    expect(pc.points).toBeInstanceOf(Float64Array);
    expect(pc.points.length).toBe(n * 3);
    expect(pc.points[n * 3 - 1]).toBe((n * 3 - 1) % 1024);
    // 10M objects would take hundreds of MB of JS heap; typed arrays live outside it.
    expect(heapGrowth).toBeLessThan(32 * 1024 * 1024);
  });
});

describe('PLY: reading from files on disk and the fixtures are the real ones', () => {
  it('path, URL and bytes give the same cloud', async () => {
    const a = await readPointCloud(`${REAL}vplant_rec.ply`);
    const b = await readPointCloud(new URL(`file://${REAL}vplant_rec.ply`));
    const c = await readPointCloud(readFileSync(`${REAL}vplant_rec.ply`));
    expect(sameBytes(a.points, b.points) && sameBytes(a.points, c.points)).toBe(true);
  });
});
