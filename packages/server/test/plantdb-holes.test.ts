// The security problems of plantdb 0.15's server (../shared reference, §4 of the REST API notes),
// one test each, on a local folder database so that "outside the database" can be looked at:
// each must be closed here, and the storage (and the folder around it) left unchanged.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FSDB } from '@romi/fsdb';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';
import { FIXTURE, get, serve, type Running } from './harness.js';

const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, lockoutMs: 60_000 };
const SECRET = randomBytes(48);
const PASSWORD = 'a long enough password';

let parent: string;
let dbDir: string;
let server: Running;
let accounts: AccountStore;
const token: Record<string, string> = {};
const url = (path: string) => `${server.url}${path}`;
const login = (username: string, password: string) => get(url('/login'), { json: { username, password } });

/** Every file under the folder that holds the database (the database itself included). */
async function around(): Promise<string[]> {
  return (await readdir(parent, { recursive: true })).map(String).sort();
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'romidb-holes-'));
  dbDir = join(parent, 'db');
  await cp(FIXTURE, dbDir, { recursive: true });
  const db = new FSDB(dbDir);
  accounts = new AccountStore(db.backend, FAST);
  await accounts.ensureGuest();
  await accounts.addUser({ username: 'labadmin', fullname: 'Lab Admin', password: PASSWORD, roles: ['admin'] });
  await accounts.addUser({ username: 'alice', fullname: 'Alice', password: PASSWORD, roles: ['contributor'] });
  server = await serve(db, { auth: { secret: SECRET, accounts: FAST } });
  token.guest = (await login('guest', 'guest')).json().access_token;
  token.admin = (await login('labadmin', PASSWORD)).json().access_token;
});
afterAll(async () => {
  await server?.close();
  await rm(parent, { recursive: true, force: true });
});

describe("plantdb's security problems, each closed", () => {
  it('1. users.json (password hashes) and internal files cannot be downloaded', async () => {
    for (const path of ['/files/users.json', '/files/groups.json', '/files/real_plant/..%2fusers.json', '/files/.romidb-tokens/revoked', '/files/.romidb-changes.json', '/files/lock']) {
      const res = await get(url(path), { headers: { authorization: `Bearer ${token.admin}` } });
      expect(res.status, path).toBe(404);
      expect(res.text()).not.toContain('argon2');
    }
  });

  it('2. no file can be written outside the scan through POST /files: a guest may not write at all', async () => {
    const before = await around();
    const send = async (who: string, path: string) => {
      const res = await request(url('/files/real_plant'), { method: 'POST', headers: { authorization: `Bearer ${token[who]}`, 'x-file-path': path, 'content-type': 'text/plain' }, body: 'evil' });
      await res.body.dump();
      return { status: res.statusCode };
    };
    expect((await send('guest', '../../escaped.txt')).status).toBe(400);
    expect((await send('guest', 'images/x.txt')).status).toBe(403);
    expect((await send('admin', '../../escaped.txt')).status).toBe(400);
    expect((await send('admin', '../real_plant_analyzed/images/x.txt')).status).toBe(400);
    expect(await around()).toEqual(before);
  });

  it('3. no default admin/admin: only the accounts made (guest exists here because this test made it)', async () => {
    expect((await login('admin', 'admin')).status).toBe(401);
    const fresh = await mkdtemp(join(tmpdir(), 'romidb-holes-fresh-'));
    try {
      await cp(FIXTURE, fresh, { recursive: true });
      const other = await serve(new FSDB(fresh), { auth: { secret: SECRET, accounts: FAST } });
      try {
        for (const [u, p] of [['admin', 'admin'], ['guest', 'guest']]) expect((await get(`${other.url}/login`, { json: { username: u, password: p } })).status).toBe(401);
      } finally {
        await other.close();
      }
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('4. failed logins lock one account for a while, never the others; /refresh cannot add a scan; sizes are bounded', async () => {
    for (let i = 0; i < 10; i++) expect((await login('guest', 'wrong')).status).toBe(401);
    expect((await login('guest', 'guest')).status).toBe(401);
    expect((await login('alice', PASSWORD)).status).toBe(200);
    for (let i = 0; i < 3; i++) await login('labadmin', 'wrong');
    expect((await login('alice', PASSWORD)).status).toBe(200);
    await get(url('/refresh?scan_id=doesnotexist'));
    expect((await get(url('/scans'))).json()).not.toContain('doesnotexist');
    const before = await around();
    for (const size of [17, 18, 19]) await get(url(`/image/real_plant/images/00000_rgb?size=${size}`));
    expect((await around()).filter((f) => f.includes('webcache')).length).toBe(before.filter((f) => f.includes('webcache')).length);
  });

  it('5. a bad token is a 401 (also on reads), a missing permission a 403', async () => {
    const forged = await new SignJWT({ type: 'access' }).setProtectedHeader({ alg: 'HS512' }).setSubject('labadmin').setIssuer('plantdb-api').setAudience('plantdb-client').setExpirationTime('1h').sign(randomBytes(48));
    for (const path of ['/scans', '/scan/real_plant', '/scan/real_plant/metadata', '/archive/real_plant']) {
      const res = await get(url(path), { headers: { authorization: `Bearer ${forged}` } });
      expect(res.status, path).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    const reader = await get(url('/scan/new_by_guest'), { method: 'POST', json: { metadata: {} }, headers: { authorization: `Bearer ${token.guest}` } });
    expect(reader.status).toBe(403);
    expect(reader.json().code).toBe('ROMI_FORBIDDEN');
  });

  it('6. a password change persists', async () => {
    await accounts.setPassword('alice', 'the new password of alice');
    expect((await login('alice', PASSWORD)).status).toBe(401);
    expect((await login('alice', 'the new password of alice')).status).toBe(200);
  });

  it('7. a new fileset keeps the metadata given, and the scan its own', async () => {
    const before = (await get(url('/scan/real_plant/metadata'))).json().metadata;
    const res = await get(url('/fileset/real_plant/with_metadata'), { method: 'POST', json: { metadata: { mine: true } }, headers: { authorization: `Bearer ${token.admin}` } });
    expect(res.status).toBe(201);
    expect((await get(url('/fileset/real_plant/with_metadata/metadata'))).json().metadata).toEqual({ mine: true });
    expect((await get(url('/scan/real_plant/metadata'))).json().metadata).toEqual(before);
  });
});
