// Two `romidb serve` processes on one database (a local folder; an S3 bucket on s3rver in
// `pnpm test`, on radosgw in `pnpm test:slow`), with real clients: a login on one is valid on
// the other, a write through one is seen through the other at once (their background refresh is
// off: the change journal alone tells them), concurrent uploads to one scan through both lose
// nothing, a logout on one is refused by both.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { suiteS3Targets, type S3TestServer } from '@romi/test-utils';
import { collect, FIXTURES, spawnCli, startServe, tempDir, type RunResult } from './helpers.js';

interface Place {
  name: string;
  /** The database's location for --db, holding the fixture database, and the environment to reach it. */
  make(): Promise<{ db: string; env: Record<string, string> }>;
}

const s3Servers: S3TestServer[] = [];
afterAll(async () => {
  await Promise.all(s3Servers.map((s) => s.close()));
});

function places(): Place[] {
  const list: Place[] = [];
  if (process.env.ROMI_TESTS !== 'slow') {
    list.push({
      name: 'fsdb',
      async make() {
        const db = join(await tempDir(), 'db');
        await cp(join(FIXTURES, 'server-db'), db, { recursive: true });
        return { db, env: {} };
      },
    });
  }
  for (const target of suiteS3Targets()) {
    list.push({
      name: `s3db (${target.kind})`,
      async make() {
        const server = await target.start();
        s3Servers.push(server);
        const bucket = await server.bucket();
        const db = `s3://${bucket}/lab?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
        const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey };
        const home = await tempDir('romidb-home-');
        const copied = await collect(spawnCli(['mirror', join(FIXTURES, 'server-db'), db, '--init'], { home, env }));
        expect(copied.code, copied.err).toBe(0);
        return { db, env };
      },
    });
  }
  return list;
}

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** The CLI with `input` on its stdin. */
function romidb(home: string, env: Record<string, string>, args: string[], input: string): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = collect(child);
  child.stdin!.end(input);
  return done;
}

/** `romidb serve` on a free port, its background refresh off; its URL once it listens. */
const serveOn = (home: string, env: Record<string, string>, db: string, args: string[]) =>
  startServe(['--json', '--db', db, 'serve', '--port', '0', '--quiet', '--refresh-interval', '0', '--no-rate-limit', ...args], { home, env });

async function call(url: string, opts: { method?: string; token?: string; json?: unknown; body?: Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(url, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

/** A write retried while the database is busy (503 + Retry-After), as a client should. */
async function writeRetrying(send: () => Promise<{ status: number }>): Promise<{ status: number }> {
  for (let attempt = 0; ; attempt++) {
    const res = await send();
    if (res.status !== 503 || attempt >= 40) return res;
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
  }
}

// Each server is a process and each write takes the database's lock: more than the default time.
// In `pnpm test:slow` the one place is radosgw, which .ci/run starts (ROMI_TEST_RGW_ENDPOINT).
if (places().length === 0) it.skip('two servers on one database: no place here (radosgw needs ROMI_TEST_RGW_ENDPOINT)', () => {});

describe.each(places())('two servers on one database: $name', { timeout: 240_000 }, (place) => {
  it('share logins, see each other’s writes at once, lose no concurrent write, share logouts', async () => {
    const { db, env } = await place.make();
    const home = await tempDir('romidb-home-');
    const password = 'two servers, one database';
    for (const [user, role] of [['labadmin', 'admin'], ['alice', 'contributor']] as const) {
      const added = await romidb(home, env, ['--db', db, 'user', 'add', user, '--role', role, '--password-stdin'], `${password}\n`);
      expect(added.code, added.err).toBe(0);
    }
    const secretFile = join(home, 'jwt.key');
    await writeFile(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
    const serveArgs = ['--jwt-secret-file', secretFile];
    const [a, b] = await Promise.all([serveOn(home, env, db, serveArgs), serveOn(home, env, db, serveArgs)]);
    try {
      // A login on A is valid on B.
      const login = await call(`${a.url}/login`, { json: { username: 'alice', password } });
      expect(login.status).toBe(200);
      const token = login.json().access_token as string;
      expect((await call(`${b.url}/token-validation`, { method: 'POST', token })).status).toBe(200);

      // B has read (and cached) the list and a scan's metadata before A writes.
      expect((await call(`${b.url}/scans`)).json()).not.toContain('made_on_a');
      const before = (await call(`${b.url}/scan/real_plant/metadata`)).json().metadata;
      expect(before.note).toBeUndefined();

      // A write through A is seen through B at once, and the other way round.
      expect((await call(`${a.url}/scan/made_on_a`, { token, json: { metadata: { species: 'Arabidopsis' } } })).status).toBe(201);
      expect((await call(`${b.url}/scans`)).json()).toContain('made_on_a');
      expect((await call(`${b.url}/scan/made_on_a/metadata`)).json().metadata).toMatchObject({ species: 'Arabidopsis', owner: 'alice' });
      const adminToken = (await call(`${a.url}/login`, { json: { username: 'labadmin', password } })).json().access_token as string;
      expect((await call(`${b.url}/scan/real_plant/metadata`, { token: adminToken, json: { metadata: { note: 'from B' } } })).status).toBe(200);
      expect((await call(`${a.url}/scan/real_plant/metadata`)).json().metadata.note).toBe('from B');
      expect((await call(`${b.url}/scan/real_plant/metadata`)).json().metadata.note).toBe('from B');

      // Concurrent uploads into one scan through both servers: every one is kept.
      expect((await call(`${b.url}/fileset/made_on_a/uploads`, { token, json: { metadata: {} } })).status).toBe(201);
      const uploads = Array.from({ length: 16 }, (_, i) => ({ id: `u${i}`, bytes: randomBytes(2000 + i), via: i % 2 === 0 ? a.url : b.url }));
      const results = await Promise.all(
        uploads.map((u) => writeRetrying(() => call(`${u.via}/files/made_on_a`, { token, body: u.bytes, headers: { 'x-file-path': `uploads/${u.id}.bin`, 'content-type': 'application/octet-stream' } }))),
      );
      expect(results.map((r) => r.status)).toEqual(uploads.map(() => 201));
      for (const server of [a.url, b.url]) {
        const filesets = (await call(`${server}/scan/made_on_a/filesets`)).json();
        expect(JSON.stringify(filesets)).toContain('uploads');
        for (const u of uploads) {
          const got = await call(`${server}/file/made_on_a/uploads/${u.id}`);
          expect(got.status, `${u.id} through ${server}`).toBe(200);
          expect(got.bytes.equals(u.bytes)).toBe(true);
        }
      }

      // A logout on B is refused by A and B.
      expect((await call(`${b.url}/logout`, { method: 'POST', token })).status).toBe(200);
      for (const server of [a.url, b.url]) expect((await call(`${server}/token-validation`, { method: 'POST', token })).status).toBe(401);
      expect((await call(`${a.url}/scan/after_logout`, { token, json: { metadata: {} } })).status).toBe(401);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect((await a.done).code).toBe(0);
      expect((await b.done).code).toBe(0);
    }
  });
});
