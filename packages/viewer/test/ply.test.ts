// The worker's PLY reader: ascii and both binary byte orders, normals, colours, polygon faces.
import { describe, expect, it } from 'vitest';
import { parsePly } from '../src/ply.js';

const enc = new TextEncoder();

function binary(le: boolean): ArrayBuffer {
  const header = enc.encode(
    `ply\nformat binary_${le ? 'little' : 'big'}_endian 1.0\ncomment x\nelement vertex 3\nproperty double x\nproperty double y\nproperty double z\nproperty float nx\nproperty float ny\nproperty float nz\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nelement face 1\nproperty list uchar uint vertex_indices\nelement extra 2\nproperty int a\nend_header\n`,
  );
  const body = new DataView(new ArrayBuffer(3 * (24 + 12 + 3) + 1 + 12 + 8));
  let at = 0;
  for (let i = 0; i < 3; i++) {
    for (const v of [i, i + 0.5, -i]) (body.setFloat64(at, v, le), (at += 8));
    for (const v of [0, 0, 1]) (body.setFloat32(at, v, le), (at += 4));
    for (const v of [255, 0, 51 * i]) body.setUint8(at++, v);
  }
  body.setUint8(at++, 3);
  for (const v of [0, 1, 2]) (body.setUint32(at, v, le), (at += 4));
  const out = new Uint8Array(header.length + body.byteLength);
  out.set(header);
  out.set(new Uint8Array(body.buffer), header.length);
  return out.buffer;
}

describe('parsePly', () => {
  for (const le of [true, false]) {
    it(`binary ${le ? 'little' : 'big'}-endian: positions, normals, colours, a face`, () => {
      const d = parsePly(binary(le));
      expect(d.vertexCount).toBe(3);
      expect(Array.from(d.positions, (v) => v + 0)).toEqual([0, 0.5, 0, 1, 1.5, -1, 2, 2.5, -2]);
      expect(Array.from(d.normals!)).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 1]);
      expect(Array.from(d.colors!).map((c) => Math.round(c * 255))).toEqual([255, 0, 0, 255, 0, 51, 255, 0, 102]);
      expect(Array.from(d.indices!)).toEqual([0, 1, 2]);
    });
  }

  it('ascii, a quad as two triangles, no normals nor colours', () => {
    const text = 'ply\r\nformat ascii 1.0\r\nelement vertex 4\r\nproperty float x\r\nproperty float y\r\nproperty float z\r\nelement face 1\r\nproperty list uchar int vertex_index\r\nend_header\r\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n';
    const d = parsePly(enc.encode(text).buffer as ArrayBuffer);
    expect(d.vertexCount).toBe(4);
    expect(Array.from(d.positions)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    expect(d.normals).toBeUndefined();
    expect(d.colors).toBeUndefined();
    expect(Array.from(d.indices!)).toEqual([0, 1, 2, 0, 2, 3]);
  });

  it('refuses what is not a PLY, or has no x, y, z', () => {
    expect(() => parsePly(enc.encode('hello').buffer as ArrayBuffer)).toThrow(/not a PLY/);
    expect(() => parsePly(enc.encode('ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n').buffer as ArrayBuffer)).toThrow(/x, y, z/);
    expect(() => parsePly(enc.encode('ply\nformat foo 1.0\nelement vertex 0\nend_header\n').buffer as ArrayBuffer)).toThrow(/format/);
  });
});
