// Hostile requests on every backend: traversal in every encoding, forbidden names, bad ids,
// huge/negative/garbage sizes, bad JSON, a crawler asking for 1,000 image sizes. Each answer is a
// 4xx JSON with a code; nothing is written outside webcache/; nothing forbidden is served.
import { request as httpRequest } from 'node:http';
import { symlink, writeFile, mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, toKey, type Backend } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { get, localTargets, serve, targets, type Running } from './harness.js';

/** A GET with the path sent exactly as written (no client-side normalisation of `..` or `%2e`). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string; type: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every object of the backend with its version tag. */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.list('')) if (e.kind === 'object') out.set(e.key, e.etag);
  return out;
}

const SECRET = 'SECRET-USERS-JSON';

/** Paths that must never reach the root's own files or leave the scan (each sent raw). */
const TRAVERSALS = [
  '/files/users.json',
  '/files/groups.json',
  '/files/romidb',
  '/files/.locks/lock_manager.log',
  '/files/real_plant/../users.json',
  '/files/real_plant/..%2fusers.json',
  '/files/real_plant/..%2Fusers.json',
  '/files/real_plant/%2e%2e/users.json',
  '/files/real_plant/%2E%2E%2Fusers.json',
  '/files/real_plant/..%5cusers.json',
  '/files/real_plant/..\\users.json',
  '/files/real_plant/%252e%252e/users.json',
  '/files/real_plant/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/files/..%2f..%2fetc%2fpasswd',
  '/files/%2e%2e/%2e%2e/etc/passwd',
  '/files//etc/passwd',
  '/files/real_plant//files.json/../../users.json',
  '/files/real_plant/.hidden',
  '/files/real_plant/images/.romidb-tmp-1.tmp',
  '/files/real_plant/images/x.tmp',
  '/files/real_plant/%00/users.json',
  '/files/real_plant/images/00000_rgb.jpg%00.json',
  '/file/real_plant/images/..%2f..%2fusers',
  '/file/real_plant/%2e%2e/users',
  '/image/real_plant/images/..%2fusers.json',
  '/image/%2e%2e/images/00000_rgb',
  '/scan/..',
  '/scan/%2e%2e',
  '/scan/.hidden',
  '/scan/bad%20id',
  '/scan/real_plant%2f..',
  '/skeleton/..%2f..%2fetc',
  '/archive/..',
  '/archive/%2e%2e%2f',
];

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  let before: Map<string, string>;
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    made = await target.make();
    const { backend } = made;
    // What plantdb keeps at the root and in scans, plus romidb's own leftovers.
    await backend.put(toKey('users.json'), new TextEncoder().encode(`[{"username":"admin","password_hash":"${SECRET}"}]`));
    await backend.put(toKey('groups.json'), new TextEncoder().encode(SECRET));
    await backend.put(toKey('.locks/lock_manager.log'), new TextEncoder().encode(SECRET));
    await backend.put(toKey('real_plant/images/x.tmp'), new TextEncoder().encode(SECRET));
    before = await snapshot(backend);
    server = await serve(made.db);
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  it('traversal in every encoding, the root files, dot-names and temp files: 4xx JSON, never their bytes', async () => {
    for (const path of TRAVERSALS) {
      const res = await rawGet(server.url, path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(res.body, path).not.toContain(SECRET);
      expect(res.body, path).not.toContain('root:');
      expect(res.type, path).toMatch(/^application\/json/);
      expect(JSON.parse(res.body).code, path).toMatch(/^ROMI_/);
    }
  });

  it('bad ids are 400 with plantdb\'s message; unknown ones 404', async () => {
    const bad = await get(url('/scan/bad%20id'));
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ message: "Invalid name: 'bad id'. Names must be alphanumeric and can include underscores, dashes, or periods.", code: 'ROMI_INVALID_ARGUMENT' });
    expect((await get(url(`/scan/${'a'.repeat(300)}`))).status).toBe(400);
    for (const path of ['/scan/nope', '/scan/nope/metadata', '/fileset/nope/images/files', '/file/real_plant/nope/x', '/image/real_plant/images/nope', '/pointcloud/nope/a/b', '/archive/nope', '/sequence/nope']) {
      const res = await get(url(path));
      expect(res.status, path).toBe(404);
      expect(res.json().code, path).toBe('ROMI_NOT_FOUND');
    }
  });

  it('huge, negative, fractional and garbage sizes are 400, never a cache entry', async () => {
    for (const size of ['0', '-5', '1.5', 'bogus', '1e3', '99999999999', '100000', '1441', 'NaN', '', '%20150']) {
      const res = await get(url(`/image/real_plant/images/00000_rgb?size=${size}`));
      expect(res.status, size).toBe(400);
      expect(res.json().code, size).toBe('ROMI_INVALID_ARGUMENT');
    }
    const cloud = '/pointcloud/real_plant_analyzed/PointCloud_1_0_1_0_10_0_7ee836e5a9/PointCloud';
    for (const size of ['0', '-1', 'NaN', 'Infinity', '1e-9', '1e300', 'bogus', '0x10']) {
      const res = await get(url(`${cloud}?size=${size}`));
      expect(res.status, size).toBe(400);
    }
    // Not an image (a JSON file): sent whole with size=orig only.
    const notImage = await get(url('/image/real_plant_analyzed/Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc/cameras?size=thumb'));
    expect(notImage.status).toBe(400);
    expect(notImage.json().message).toBe("'cameras.json' is not an image: only size=orig sends it");
    // Not a point cloud.
    expect((await get(url('/pointcloud/real_plant/images/00000_rgb'))).status).toBe(400);
    expect((await get(url('/mesh/real_plant/images/00000_rgb'))).status).toBe(400);
  });

  it('bad JSON, bad flags, bad regular expressions, over-deep queries: 400 JSON', async () => {
    // Deeper than the JSON depth limit (1,000), yet short enough for Node's 16 KiB header limit.
    const deep = '{"a":' + '['.repeat(1100) + '1' + ']'.repeat(1100) + '}';
    const cases = [
      '/scan/real_plant/filesets?query={bad',
      '/scan/real_plant/filesets?query=[1,2]',
      '/fileset/real_plant/images/files?query=nope',
      `/scans?filterQuery=${encodeURIComponent('{"object":{"species":"("}}')}&fuzzy=true`,
      '/scans?fuzzy=maybe',
      `/scans_info?filterQuery=${encodeURIComponent(deep)}`,
      '/image/real_plant/images/00000_rgb?as_base64=perhaps',
      '/sequence/real_plant_analyzed?type=everything',
    ];
    for (const path of cases) {
      const res = await get(url(path));
      expect(res.status, path).toBe(400);
      expect(res.json().code, path).toBe('ROMI_INVALID_ARGUMENT');
    }
    // Text that is not JSON is a search, not an error (the viewer's search box).
    expect((await get(url(`/scans_info?filterQuery=${encodeURIComponent('{"object":')}`))).status).toBe(200);
  });

  it('a crawler asking for 1,000 distinct image sizes gets answers, but only the few cached sizes are stored', async () => {
    // The image is 896×896: every side up to that is answered, none beyond (no upscaling).
    // Every size on fsdb; a sample elsewhere (each resize costs the same on any backend).
    const step = target.name === 'fsdb' ? 1 : 20;
    const sides = [150, 300, 600];
    for (let side = 1; side <= 1000; side += step) sides.push(side);
    const statuses = new Map<number, number>();
    await mapLimit(sides, 4, async (side) => {
      const res = await get(url(`/image/virtual_plant/images/00000_leaf?size=${side}`));
      statuses.set(side, res.status);
      if (res.status === 400) expect(res.json().code).toBe('ROMI_INVALID_ARGUMENT');
    });
    for (const [side, status] of statuses) expect(status, String(side)).toBe(side <= 896 ? 200 : 400);
    const entries = [...(await snapshot(made.backend)).keys()].filter((k) => k.startsWith('virtual_plant/webcache/'));
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.length).toBeLessThanOrEqual(5);
  });

  it('nothing was written outside webcache/ by any of the above', async () => {
    const after = await snapshot(made.backend);
    for (const [key, etag] of before) expect(after.get(key), key).toBe(etag);
    const added = [...after.keys()].filter((k) => !before.has(k));
    expect(added.filter((k) => !/^[^/]+\/webcache\/([0-9a-f]{40}\.(jpeg|ply))?$/.test(k))).toEqual([]);
  });
});

describe('fsdb: links out of the database', () => {
  it('a symlink inside a scan that points outside is not followed', async () => {
    const target = localTargets()[0]!;
    const made = await target.make();
    const dir = (made.db as FSDB).backend.localPath!(toKey('real_plant/'))!;
    const outside = `${dir}/../../outside-${Date.now()}`;
    await mkdir(outside, { recursive: true });
    await writeFile(`${outside}/secret.txt`, SECRET);
    await symlink(outside, `${dir}/linked`);
    const server = await serve(made.db);
    try {
      const res = await get(`${server.url}/files/real_plant/linked/secret.txt`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.text()).not.toContain(SECRET);
    } finally {
      await server.close();
      await made.dispose();
    }
  });
});

describe('fsdb: a stored image whose bytes are not an image', () => {
  it('its previews are 500 ROMI_CORRUPT naming the file, nothing is cached, and size=orig still sends it', async () => {
    const made = await localTargets()[0]!.make();
    const garbage = Buffer.from('this is not a JPEG '.repeat(100));
    await made.backend.put(toKey('real_plant/images/00001_rgb.jpg'), garbage);
    const server = await serve(made.db);
    try {
      for (const size of ['thumb', '300', '20']) {
        const res = await get(`${server.url}/image/real_plant/images/00001_rgb?size=${size}`);
        expect(res.status, size).toBe(500);
        expect(res.json().code).toBe('ROMI_CORRUPT');
        expect(res.json().message).toContain('00001_rgb.jpg');
      }
      const orig = await get(`${server.url}/image/real_plant/images/00001_rgb?size=orig`);
      expect(orig.status).toBe(200);
      expect(orig.body.equals(garbage)).toBe(true);
      const cached = [];
      for await (const e of made.backend.list('real_plant/webcache/')) if (e.kind === 'object' && !e.key.endsWith('/')) cached.push(e.key);
      expect(cached).toEqual([]);
    } finally {
      await server.close();
      await made.dispose();
    }
  });
});
