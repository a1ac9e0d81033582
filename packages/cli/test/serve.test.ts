// `romidb serve` as a user runs it: the built binary in a child process, a real HTTP client,
// then SIGTERM (or SIGINT): requests under way finish, the process exits 0.
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, FIXTURES, spawnCli, startServe, tempDir } from './helpers.js';

async function fixtureDb(): Promise<string> {
  const dir = join(await tempDir(), 'db');
  await cp(join(FIXTURES, 'server-db'), dir, { recursive: true });
  return dir;
}

describe('romidb serve', () => {
  it('serves the database until SIGTERM, finishes a download under way, exits 0', async () => {
    const db = await fixtureDb();
    const { child, done, url } = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await (await fetch(`${url}/health`)).json();
    expect(health).toMatchObject({ status: 'healthy', database: { scan_count: 5 } });
    const info = await (await fetch(`${url}/scan/real_plant_analyzed`)).json();
    expect(info.hasPointCloud).toBe(true);
    // A download started before the signal completes.
    const download = fetch(`${url}/files/real_plant_analyzed/PointCloud_1_0_1_0_10_0_7ee836e5a9/PointCloud.ply`).then(async (r) => (await r.arrayBuffer()).byteLength);
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    expect(await download).toBe(2778925);
    const result = await done;
    expect(result.code).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it("serves the demo database as the README's quick start says", async () => {
    const dir = join(await tempDir(), 'demo-db');
    const home = await tempDir('romidb-home-');
    expect((await collect(spawnCli(['demo', dir], { home }))).code).toBe(0);
    const { child, done, url } = await startServe(['--json', '--db', dir, 'serve', '--port', '0', '--quiet']);
    expect(await (await fetch(`${url}/scans`)).json()).toEqual(['myscan_001']);
    expect((await (await fetch(`${url}/scan/myscan_001`)).json()).id).toBe('myscan_001');
    const thumb = await fetch(`${url}/image/myscan_001/images/image_000?size=thumb`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    // The web viewer at /viewer/ (CI builds it before the tests; without a build, a 404 that says so).
    const viewer = await fetch(`${url}/viewer/`);
    if (viewer.status === 200) expect(await viewer.text()).toContain('<div id="app">');
    else expect(((await viewer.json()) as { message: string }).message).toMatch(/viewer is not built/);
    child.kill('SIGINT');
    expect((await done).code).toBe(0);
  });

  it('--no-viewer: no /viewer/, the API unchanged', async () => {
    const db = await fixtureDb();
    const { child, done, url } = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet', '--no-viewer']);
    expect((await fetch(`${url}/viewer/`)).status).toBe(404);
    expect((await fetch(`${url}/viewer`, { redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${url}/scans`)).status).toBe(200);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('accounts: none by default; --demo-users logs admin/admin in, with a warning; a key file others can read is refused', async () => {
    const db = await fixtureDb();
    const plain = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet']);
    const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(`${plain.url}/login`, { username: 'admin', password: 'admin' })).status).toBe(404);
    plain.child.kill('SIGTERM');
    expect((await plain.done).code).toBe(0);

    const demo = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet', '--demo-users']);
    const res = await post(`${demo.url}/login`, { username: 'admin', password: 'admin' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { user: { username: string } }).user.username).toBe('admin');
    demo.child.kill('SIGTERM');
    const done = await demo.done;
    expect(done.code).toBe(0);
    expect(done.err).toMatch(/WARNING: --demo-users/);

    const keyFile = join(await tempDir(), 'jwt.key');
    await writeFile(keyFile, 'k'.repeat(64), { mode: 0o644 });
    const home = await tempDir('romidb-home-');
    const refused = await collect(spawnCli(['--db', db, 'serve', '--port', '0', '--jwt-secret-file', keyFile], { home }));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/chmod 600|readable/i);
  });

  it('SIGINT stops it too; --prefix puts the routes under a path', async () => {
    const db = await fixtureDb();
    const { child, done, url } = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--prefix', '/api', '--quiet']);
    expect(url.endsWith('/api')).toBe(true);
    expect((await fetch(`${url}/scans`)).status).toBe(200);
    child.kill('SIGINT');
    expect((await done).code).toBe(0);
  });

  it('logs requests as JSON lines on stderr unless --quiet', async () => {
    const db = await fixtureDb();
    const { child, done, url } = await startServe(['--json', '--db', db, 'serve', '--port', '0']);
    await fetch(`${url}/scans`);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    const lines = result.err.trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string } });
    expect(lines.some((l) => l.req?.url === '/scans')).toBe(true);
  });

  it('usage errors: a bad port or prefix exits 2; a folder that is not a database exits 1', async () => {
    const db = await fixtureDb();
    const home = await tempDir('romidb-home-');
    expect((await collect(spawnCli(['--db', db, 'serve', '--port', 'x'], { home }))).code).toBe(2);
    expect((await collect(spawnCli(['--db', db, 'serve', '--prefix', 'api/'], { home }))).code).toBe(2);
    const notDb = await tempDir();
    const res = await collect(spawnCli(['--db', notDb, 'serve', '--port', '0'], { home }));
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/not a romidb database|NOT_A_DATABASE|not a database/i);
  });

  it('a port already in use is one line and exit 1', async () => {
    const db = await fixtureDb();
    const first = await startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet']);
    const port = new URL(first.url).port;
    const home = await tempDir('romidb-home-');
    const second = await collect(spawnCli(['--db', db, 'serve', '--port', port, '--quiet'], { home }));
    expect(second.code).toBe(1);
    expect(second.err.trim().split('\n')).toHaveLength(1);
    expect(second.err).toMatch(/EADDRINUSE|in use/);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
  });
});
