// Files as a file server answers them: ETag, Last-Modified, 304, Range (206/416, If-Range),
// HEAD, content types, gzip for JSON only, CORS preflight, prefix. On fsdb (the HTTP layer is
// the same for every backend; ranges per backend are in the db-conformance Backend suite).
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, get, localTargets, serve, type Running } from './harness.js';

const JPEG = '/files/real_plant/images/00000_rgb.jpg';

describe('HTTP semantics of stored files', () => {
  const target = localTargets()[0]!;
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  let jpeg: Buffer;
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    made = await target.make();
    server = await serve(made.db);
    jpeg = await readFile(`${FIXTURE}real_plant/images/00000_rgb.jpg`);
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
  });

  it('answers with ETag, Last-Modified, Accept-Ranges, Content-Length and an inline file name', async () => {
    const res = await get(url(JPEG));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"[^"]+"$/);
    expect(Date.parse(res.headers['last-modified']!)).not.toBeNaN();
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-length']).toBe(String(jpeg.length));
    expect(res.headers['content-disposition']).toBe('inline; filename="00000_rgb.jpg"');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('304 on a matching If-None-Match (also in a list, or weak) and If-Modified-Since; 200 otherwise', async () => {
    const { headers } = await get(url(JPEG));
    const etag = headers.etag!;
    for (const inm of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const res = await get(url(JPEG), { headers: { 'if-none-match': inm } });
      expect(res.status, inm).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe(etag);
    }
    expect((await get(url(JPEG), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    expect((await get(url(JPEG), { headers: { 'if-modified-since': headers['last-modified']! } })).status).toBe(304);
    expect((await get(url(JPEG), { headers: { 'if-modified-since': new Date(Date.parse(headers['last-modified']!) - 10_000).toUTCString() } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await get(url(JPEG), { headers: { 'if-none-match': '"other"', 'if-modified-since': headers['last-modified']! } })).status).toBe(200);
  });

  it('single byte ranges: 206 with Content-Range; suffix and open ranges; 416 past the end', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 100],
      ['bytes=100-', 100, jpeg.length],
      ['bytes=-10', jpeg.length - 10, jpeg.length],
      ['bytes=5-5', 5, 6],
      [`bytes=10-${jpeg.length + 1000}`, 10, jpeg.length],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(url(JPEG), { headers: { range } });
      expect(res.status, range).toBe(206);
      expect(res.headers['content-range'], range).toBe(`bytes ${start}-${end - 1}/${jpeg.length}`);
      expect(res.headers['content-length'], range).toBe(String(end - start));
      expect(res.body.equals(jpeg.subarray(start, end)), range).toBe(true);
    }
    const past = await get(url(JPEG), { headers: { range: `bytes=${jpeg.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${jpeg.length}`);
    expect(past.json().code).toBe('ROMI_INVALID_ARGUMENT');
    // Several ranges, other units and nonsense are ignored: the whole file.
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=9-3']) {
      const res = await get(url(JPEG), { headers: { range } });
      expect(res.status, range).toBe(200);
      expect(res.body.equals(jpeg), range).toBe(true);
    }
  });

  it('If-Range: the range only while the file is unchanged', async () => {
    const { headers } = await get(url(JPEG));
    expect((await get(url(JPEG), { headers: { range: 'bytes=0-9', 'if-range': headers.etag! } })).status).toBe(206);
    expect((await get(url(JPEG), { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })).status).toBe(200);
    expect((await get(url(JPEG), { headers: { range: 'bytes=0-9', 'if-range': headers['last-modified']! } })).status).toBe(206);
  });

  it('HEAD answers the headers of GET without a body, for files, images and archives', async () => {
    for (const path of [JPEG, '/file/real_plant/images/00000_rgb', '/image/real_plant/images/00000_rgb?size=orig', '/archive/real_plant', '/scans']) {
      const head = await get(url(path), { method: 'HEAD' });
      const full = await get(url(path));
      expect(head.status, path).toBe(200);
      expect(head.body.length, path).toBe(0);
      expect(head.headers['content-type'], path).toBe(full.headers['content-type']);
      if (full.headers['content-length']) expect(head.headers['content-length'], path).toBe(full.headers['content-length']);
    }
  });

  it('gzip for JSON only, when the client asks for it', async () => {
    const json = await get(url('/scans_info'), { headers: { 'accept-encoding': 'gzip' } });
    expect(json.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(json.body).toString('utf8'))).toHaveLength(5);
    const index = await get(url('/files/real_plant/files.json'), { headers: { 'accept-encoding': 'gzip' } });
    expect(index.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(index.body).equals(await readFile(`${FIXTURE}real_plant/files.json`))).toBe(true);
    const image = await get(url(JPEG), { headers: { 'accept-encoding': 'gzip' } });
    expect(image.headers['content-encoding']).toBeUndefined();
    expect(image.body.equals(jpeg)).toBe(true);
    const plain = await get(url('/scans_info'));
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gunzipSync(json.body).equals(plain.body)).toBe(true);
    expect(plain.headers.vary).toContain('Accept-Encoding');
    // Weights and aliases of Accept-Encoding (/scans_info keeps its list gzipped once).
    for (const [header, gzipped] of [['gzip;q=0', false], ['br, x-gzip;q=0.5', true], ['*', true], ['identity', false], ['GZIP ; q=1', true]] as const) {
      const res = await get(url('/scans_info'), { headers: { 'accept-encoding': header } });
      expect(res.headers['content-encoding'], header).toBe(gzipped ? 'gzip' : undefined);
    }
    // A range of a JSON file is never compressed (Content-Range counts the stored bytes).
    const ranged = await get(url('/files/real_plant/files.json'), { headers: { 'accept-encoding': 'gzip', range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-encoding']).toBeUndefined();
  });

  it('CORS: any origin, and preflight requests are answered', async () => {
    const pre = await get(url('/scans_info'), { method: 'OPTIONS', headers: { origin: 'http://viewer.example', 'access-control-request-method': 'GET' } });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect((await get(url(JPEG), { headers: { origin: 'http://viewer.example' } })).headers['access-control-allow-origin']).toBe('*');
  });

  it('unknown routes are JSON 404s', async () => {
    const res = await get(url('/nothing/here'));
    expect(res.status).toBe(404);
    expect(res.json().code).toBe('ROMI_NOT_FOUND');
  });
});

describe('options', () => {
  it('--prefix serves every route under a path; scanInfo URIs stay relative to the API root', async () => {
    const target = localTargets()[0]!;
    const made = await target.make();
    const server = await serve(made.db, { prefix: '/api' });
    try {
      expect(server.url.endsWith('/api')).toBe(true);
      const info = (await get(`${server.url}/scan/real_plant`)).json();
      expect(info.thumbnailUri).toBe('/image/real_plant/images/00000_rgb?size=thumb');
      expect((await get(`${server.url}${info.thumbnailUri}`)).status).toBe(200);
      expect((await get(server.url.replace(/\/api$/, '/scans'))).status).toBe(404);
    } finally {
      await server.close();
      await made.dispose();
    }
  });

  it('rate limits answer 429 JSON with the limit headers', async () => {
    const target = localTargets()[0]!;
    const made = await target.make();
    const server = await serve(made.db, { rateLimit: { api: 3 } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await get(`${server.url}/scans`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limited = await get(`${server.url}/scans`);
      expect(limited.json().code).toBe('ROMI_RATE_LIMITED');
      expect(limited.headers['retry-after']).toBeDefined();
      // Another group has its own budget.
      expect((await get(`${server.url}${JPEG}`)).status).toBe(200);
    } finally {
      await server.close();
      await made.dispose();
    }
  });
});

describe('close()', () => {
  it('ends idle keep-alive connections at once, also after a streamed file, and lets an answer under way finish', async () => {
    const made = await localTargets()[0]!.make();
    const server = await serve(made.db);
    try {
      // A keep-alive connection whose last answer was a stream with a Content-Length (Node's own
      // closeIdleConnections() leaves it open, and close() would wait for the client).
      expect((await get(`${server.url}${JPEG}`)).status).toBe(200);
      const PLY = '/files/real_plant_analyzed/PointCloud_1_0_1_0_10_0_7ee836e5a9/PointCloud.ply';
      const { request } = await import('undici');
      const res = await request(`${server.url}${PLY}`);
      // The headers arrived; the body is read only after close() began.
      const closing = server.close();
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(body.length).toBe(Number(res.headers['content-length']));
      await closing;
    } finally {
      await made.dispose();
    }
  });
});
