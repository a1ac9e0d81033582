// @romi/server's /viewer/ route over the built viewer: cache headers, confinement, viewer: false,
// under a prefix; and the bundle: the initial JavaScript is small and three.js is not in it.
import { readFile, readdir } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemDB } from '@romi/memdb';
import { createServer } from '@romi/server';

type FastifyInstance = Awaited<ReturnType<typeof createServer>>;

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
/** The initial JavaScript (gzipped) must stay under this. */
const INITIAL_JS_BUDGET = 300 * 1024;

/** The scripts and module preloads index.html loads at once, with their gzipped sizes. */
export async function initialChunks(): Promise<Array<{ file: string; gz: number; text: string }>> {
  const html = await readFile(`${DIST}index.html`, 'utf8');
  const files = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\.\/([^"]+\.js)"/g)].map((m) => m[1]!);
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(`${DIST}${file}`);
      return { file, gz: gzipSync(bytes, { level: 9 }).length, text: bytes.toString('utf8') };
    }),
  );
}

describe('the bundle', () => {
  it(`initial JS ≤ ${INITIAL_JS_BUDGET / 1024} KB gzipped, without three.js; three.js in a chunk of its own`, async () => {
    const initial = await initialChunks();
    expect(initial.length).toBeGreaterThan(0);
    const total = initial.reduce((s, c) => s + c.gz, 0);
    console.log(`initial JS: ${initial.map((c) => `${c.file} ${(c.gz / 1024).toFixed(1)} KB gz`).join(', ')}`);
    expect(total).toBeLessThanOrEqual(INITIAL_JS_BUDGET);
    for (const c of initial) expect(c.text).not.toMatch(/WebGLRenderer|WebGL2RenderingContext/);
    const assets = await readdir(`${DIST}assets`);
    const lazy = await Promise.all(assets.filter((f) => f.endsWith('.js') && !initial.some((c) => c.file === `assets/${f}`)).map((f) => readFile(`${DIST}assets/${f}`, 'utf8')));
    expect(lazy.some((t) => t.includes('WebGLRenderer'))).toBe(true);
  });
});

describe('/viewer/ on the server', () => {
  let app: FastifyInstance;
  let off: FastifyInstance;
  let prefixed: FastifyInstance;
  beforeAll(async () => {
    app = await createServer({ db: new MemDB(), refreshIntervalMs: 0 });
    off = await createServer({ db: new MemDB(), refreshIntervalMs: 0, viewer: false });
    prefixed = await createServer({ db: new MemDB(), refreshIntervalMs: 0, prefix: '/api' });
  });
  afterAll(async () => {
    await Promise.all([app?.close(), off?.close(), prefixed?.close()]);
  });

  it('/viewer/ is index.html, no-cache; hashed assets are immutable for a year', async () => {
    const index = await app.inject('/viewer/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.body).toContain('<div id="app">');
    expect((await app.inject('/viewer/index.html')).headers['cache-control']).toBe('no-cache');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(index.body)![1]!;
    const js = await app.inject(`/viewer/${script}`);
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const again = await app.inject({ url: `/viewer/${script}`, headers: { 'if-none-match': String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
    // Gzipped when asked for.
    const gz = await app.inject({ url: `/viewer/${script}`, headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toMatch(/Accept-Encoding/i);
    expect(gunzipSync(gz.rawPayload).equals(js.rawPayload)).toBe(true);
    expect(gz.rawPayload.length).toBeLessThan(js.rawPayload.length / 2);
    const head = await app.inject({ method: 'HEAD', url: `/viewer/${script}` });
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(js.rawPayload.length);
  });

  it('/viewer redirects to /viewer/; under a prefix too', async () => {
    const r = await app.inject('/viewer');
    expect(r.statusCode).toBe(301);
    expect(r.headers.location).toBe('viewer/');
    expect((await prefixed.inject('/api/viewer')).headers.location).toBe('viewer/');
    expect((await prefixed.inject('/api/viewer/')).statusCode).toBe(200);
    expect((await prefixed.inject('/viewer/')).statusCode).toBe(404);
  });

  it('nothing outside dist/, no dot files, unknown files are 404 JSON', async () => {
    for (const url of ['/viewer/../package.json', '/viewer/%2e%2e/package.json', '/viewer/assets/..%2f..%2fpackage.json', '/viewer/.hidden', '/viewer/nope.js', '/viewer/assets/', '/viewer/assets']) {
      const r = await app.inject(url);
      expect(r.statusCode, url).toBe(404);
      expect(r.headers['content-type'], url).toMatch(/^application\/json/);
    }
  });

  it('viewer: false serves none of it; the API is unchanged', async () => {
    expect((await off.inject('/viewer/')).statusCode).toBe(404);
    expect((await off.inject('/viewer')).statusCode).toBe(404);
    expect((await off.inject('/scans')).statusCode).toBe(200);
  });

  it('a viewer folder that was not built: 404 saying how to build it', async () => {
    const none = await createServer({ db: new MemDB(), refreshIntervalMs: 0, viewer: '/nonexistent/dist' });
    try {
      const r = await none.inject('/viewer/');
      expect(r.statusCode).toBe(404);
      expect(r.json().message).toMatch(/not built/);
    } finally {
      await none.close();
    }
  });
});
