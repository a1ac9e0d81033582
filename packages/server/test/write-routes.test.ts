// plantdb's first write routes (POST /scan/<id>, /scan/<id>/metadata, /fileset/<s>/<fs>,
// /fileset/<s>/<fs>/metadata, /file/<s>/<fs>/<f>/metadata) on each backend: every route for
// every kind of user (admin, contributor, reader, a reader owning the scan, a reader in a group
// the scan is shared with, an API token limited to other datasets), storage unchanged by every
// refusal, the metadata plantdb adds, `owner` never changed, writes seen by the next read, and a
// busy writer lock answered with 503.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RomiDB, type Backend } from '@romi/db-core';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';

/** Cheap hashes: these tests are about routes, not argon2's cost (accounts.test.ts checks the real one). */
const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
import { get, localTargets, serve, targets, type Answer, type Running } from './harness.js';

const SECRET = randomBytes(48);
const PASSWORD = 'correct horse battery';
const PYTHON_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/;

/** Every stored object and its version tag. */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.list('')) if (e.kind === 'object') out.set(e.key, e.etag);
  return out;
}

describe('without `auth`, the write routes do not exist', () => {
  it('POST /scan/<id> is a 404 and writes nothing', async () => {
    const made = await localTargets()[1]!.make();
    const before = await snapshot(made.backend);
    const server = await serve(made.db);
    try {
      expect((await get(`${server.url}/scan/new_scan`, { json: { metadata: {} } })).status).toBe(404);
      expect(await snapshot(made.backend)).toEqual(before);
    } finally {
      await server.close();
    }
  });
});

type Who = 'admin' | 'contrib' | 'reader' | 'owner' | 'sharer' | 'scoped';
const WHO: Who[] = ['admin', 'contrib', 'reader', 'owner', 'sharer', 'scoped'];

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  const token = {} as Record<Who, string>;
  const url = (path: string) => `${server.url}${path}`;
  const post = (path: string, json: unknown, who?: Who, headers: Record<string, string> = {}) =>
    get(url(path), { method: 'POST', json, headers: who ? { authorization: `Bearer ${token[who]}`, ...headers } : headers });

  /** Runs a request that must be refused and checks that nothing was stored. */
  async function refused(send: () => Promise<Answer>, status: number, code?: string): Promise<Answer> {
    const before = await snapshot(made.backend);
    const res = await send();
    expect(res.status, res.text()).toBe(status);
    if (code) expect(res.json().code).toBe(code);
    expect(await snapshot(made.backend)).toEqual(before);
    return res;
  }

  beforeAll(async () => {
    made = await target.make();
    const accounts = new AccountStore(made.backend, FAST);
    await accounts.addUser({ username: 'admin', fullname: 'Lab Admin', password: PASSWORD, roles: ['admin'] });
    await accounts.addUser({ username: 'contrib', fullname: 'A Contributor', password: PASSWORD, roles: ['contributor'] });
    await accounts.addUser({ username: 'reader', fullname: 'A Reader', password: PASSWORD, roles: ['reader'] });
    await accounts.addUser({ username: 'owner', fullname: 'The Owner', password: PASSWORD, roles: ['reader'] });
    await accounts.addUser({ username: 'sharer', fullname: 'In The Lab', password: PASSWORD, roles: ['reader'] });
    await accounts.addGroup({ name: 'lab', createdBy: 'admin', users: ['sharer'] });
    // real_plant belongs to `owner` and is shared with the group `lab`.
    const writer = new RomiDB(made.backend);
    await writer.connect();
    await (await writer.getScan('real_plant')).setMetadata({ owner: 'owner', sharing: ['lab'] });
    await writer.disconnect();
    server = await serve(made.db, { auth: { secret: SECRET, accounts: FAST } });
    for (const who of WHO.filter((w) => w !== 'scoped')) {
      const res = await get(url('/login'), { json: { username: who, password: PASSWORD } });
      token[who] = res.json().access_token;
    }
    const api = await post('/create-api-token', { datasets: { 'other_*': ['read', 'write', 'create'] } }, 'admin');
    token.scoped = api.json().api_token;
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  it('POST /scan/<id>: CREATE only (admin, contributor); plantdb metadata added; 409 when it exists', async () => {
    const allowed: Who[] = ['admin', 'contrib'];
    for (const who of WHO) {
      const id = `new_by_${who}`;
      if (!allowed.includes(who)) {
        await refused(() => post(`/scan/${id}`, { metadata: { a: 1 } }, who), 403, 'ROMI_FORBIDDEN');
        continue;
      }
      const res = await post(`/scan/${id}`, { metadata: { object: { species: 'TestPlant' }, owner: 'someone else' } }, who);
      expect(res.status, res.text()).toBe(201);
      expect(res.json()).toEqual({ message: 'Scan created successfully', id });
      const md = (await get(url(`/scan/${id}/metadata`))).json().metadata;
      const fullname = who === 'admin' ? 'Lab Admin' : 'A Contributor';
      expect(md).toEqual({ object: { species: 'TestPlant' }, owner: who, created: expect.stringMatching(PYTHON_DATE), last_modified: md.created, created_by: fullname });
      // Seen at once by the same server.
      expect((await get(url('/scans'))).json()).toContain(id);
      expect((await get(url(`/scan/${id}`))).json().id).toBe(id);
    }
    // Without a body: no metadata but plantdb's.
    const bare = await post('/scan/bare_scan', undefined, 'contrib');
    expect(bare.status).toBe(201);
    expect(Object.keys((await get(url('/scan/bare_scan/metadata'))).json().metadata).sort()).toEqual(['created', 'created_by', 'last_modified', 'owner']);
    await refused(() => post('/scan/real_plant', { metadata: {} }, 'admin'), 409, 'ROMI_ALREADY_EXISTS');
    await refused(() => post('/scan/new_by_admin', {}, 'contrib'), 409);
  });

  it('POST /scan/<id>/metadata: WRITE on the scan (owner and sharing make a reader a contributor); a top-level merge; owner kept', async () => {
    const allowed: Who[] = ['admin', 'contrib', 'owner', 'sharer'];
    for (const who of WHO) {
      const send = () => post('/scan/real_plant/metadata', { metadata: { [`by_${who}`]: { n: 1 }, owner: who } }, who);
      if (!allowed.includes(who)) {
        await refused(send, 403, 'ROMI_FORBIDDEN');
        continue;
      }
      const res = await send();
      expect(res.status, res.text()).toBe(200);
      const md = res.json().metadata;
      expect(md[`by_${who}`]).toEqual({ n: 1 });
      expect(md.owner).toBe('owner');
      expect(md.sharing).toEqual(['lab']);
      expect(md.last_modified).toMatch(PYTHON_DATE);
      // The next read of this server sees it.
      expect((await get(url('/scan/real_plant/metadata'))).json().metadata[`by_${who}`]).toEqual({ n: 1 });
    }
    const md = (await get(url('/scan/real_plant/metadata'))).json().metadata;
    for (const who of allowed) expect(md).toHaveProperty(`by_${who}`);
    // Top level only: a key given again replaces its whole value.
    const merged = await post('/scan/real_plant/metadata', { metadata: { by_admin: { m: 2 } } }, 'admin');
    expect(merged.json().metadata.by_admin).toEqual({ m: 2 });
    expect(merged.json().metadata.by_contrib).toEqual({ n: 1 });
  });

  it('POST /fileset/<scan>/<fs>: WRITE on the scan; its own metadata (not the scan\'s); 404 unknown scan; 409 exists', async () => {
    const allowed: Who[] = ['admin', 'contrib', 'owner', 'sharer'];
    for (const who of WHO) {
      const fs = `fs_by_${who}`;
      const send = () => post(`/fileset/real_plant/${fs}`, { metadata: { made_by: who } }, who);
      if (!allowed.includes(who)) {
        await refused(send, 403, 'ROMI_FORBIDDEN');
        continue;
      }
      const res = await send();
      expect(res.status, res.text()).toBe(201);
      expect(res.json()).toEqual({ message: "Fileset created successfully in 'real_plant'.", id: fs });
      expect((await get(url(`/fileset/real_plant/${fs}/metadata`))).json()).toEqual({ metadata: { made_by: who } });
      expect((await get(url('/scan/real_plant/filesets'))).json().filesets).toContain(fs);
    }
    await refused(() => post('/fileset/real_plant/images', { metadata: {} }, 'admin'), 409, 'ROMI_ALREADY_EXISTS');
    await refused(() => post('/fileset/no_such_scan/fs', { metadata: {} }, 'admin'), 404, 'ROMI_NOT_FOUND');
  });

  it('POST /fileset/<s>/<fs>/metadata and /file/<s>/<fs>/<f>/metadata: WRITE on the scan; merged; 404 unknown', async () => {
    const allowed: Who[] = ['admin', 'contrib', 'owner', 'sharer'];
    for (const [path, read] of [
      ['/fileset/real_plant/images/metadata', '/fileset/real_plant/images/metadata'],
      ['/file/real_plant/images/00000_rgb/metadata', '/file/real_plant/images/00000_rgb/metadata'],
    ] as const) {
      const old = (await get(url(read))).json().metadata;
      for (const who of WHO) {
        const send = () => post(path, { metadata: { [`note_${who}`]: who } }, who);
        if (!allowed.includes(who)) {
          await refused(send, 403, 'ROMI_FORBIDDEN');
          continue;
        }
        const res = await send();
        expect(res.status, res.text()).toBe(200);
        expect(res.json().metadata).toMatchObject({ ...old, [`note_${who}`]: who });
        expect((await get(url(read))).json().metadata[`note_${who}`]).toBe(who);
      }
    }
    await refused(() => post('/fileset/real_plant/nope/metadata', { metadata: { a: 1 } }, 'admin'), 404);
    await refused(() => post('/file/real_plant/images/nope/metadata', { metadata: { a: 1 } }, 'admin'), 404);
    await refused(() => post('/scan/no_such_scan/metadata', { metadata: { a: 1 } }, 'admin'), 404);
  });

  it('400 for a missing or non-object metadata and bad ids; 401 without a valid token; storage unchanged', async () => {
    for (const path of ['/scan/real_plant/metadata', '/fileset/real_plant/images/metadata', '/file/real_plant/images/00000_rgb/metadata']) {
      for (const body of [{}, { metadata: [1] }, { metadata: 'x' }, { metadata: null }, [], 'text']) {
        const res = await refused(() => post(path, body, 'admin'), 400, 'ROMI_INVALID_ARGUMENT');
        if (typeof body === 'object' && !Array.isArray(body)) expect(res.json().message).toBe('Missing metadata in request body');
      }
    }
    for (const body of [{ metadata: [1] }, { metadata: 3 }, []]) {
      await refused(() => post('/scan/x_scan', body, 'admin'), 400);
      await refused(() => post('/fileset/real_plant/x_fs', body, 'admin'), 400);
    }
    for (const path of ['/scan/bad%20id', '/scan/a%2Fb/metadata', '/fileset/real_plant/b%24d', '/file/real_plant/images/x%3F/metadata']) {
      const res = await refused(() => post(path, { metadata: {} }, 'admin'), 400, 'ROMI_INVALID_ARGUMENT');
      expect(res.json().message).toMatch(/^Invalid name: /);
    }
    for (const headers of [{}, { authorization: 'Bearer not.a.token' }, { authorization: token.admin }]) {
      for (const path of ['/scan/x_scan', '/scan/real_plant/metadata', '/fileset/real_plant/x_fs', '/fileset/real_plant/images/metadata', '/file/real_plant/images/00000_rgb/metadata']) {
        const res = await refused(() => post(path, { metadata: { a: 1 } }, undefined, headers), 401, 'ROMI_INVALID_TOKEN');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
  });

  it('names that would reach romidb\'s own objects are refused, storage unchanged', async () => {
    for (const path of ['/scan/romidb', '/scan/users.json', '/scan/groups.json', '/scan/.hidden', '/scan/..', '/scan/.', '/fileset/real_plant/metadata', '/fileset/real_plant/webcache', '/fileset/real_plant/files.json', '/fileset/real_plant/..', '/fileset/real_plant/.hidden']) {
      const before = await snapshot(made.backend);
      const res = await post(path, { metadata: { a: 1 } }, 'admin');
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(await snapshot(made.backend)).toEqual(before);
    }
  });

  it('an API token limited to a dataset writes there, and only there', async () => {
    const api = await post('/create-api-token', { datasets: { 'new_by_a*': ['write'] } }, 'admin');
    const scoped = api.json().api_token as string;
    const headers = { authorization: `Bearer ${scoped}` };
    expect((await post('/scan/new_by_admin/metadata', { metadata: { scoped: true } }, undefined, headers)).status).toBe(200);
    await refused(() => post('/scan/real_plant/metadata', { metadata: { scoped: true } }, undefined, headers), 403, 'ROMI_FORBIDDEN');
    // write, not create.
    await refused(() => post('/scan/new_by_api', { metadata: {} }, undefined, headers), 403, 'ROMI_FORBIDDEN');
  });

  it('another server process: scan metadata after its refresh interval, file metadata after /refresh', async () => {
    // Its own database object over the same storage, as another process would have.
    const other = await serve(new RomiDB(made.backend), { refreshIntervalMs: 100 });
    try {
      const read = async (path: string) => (await get(`${other.url}${path}`)).json().metadata;
      expect((await read('/scan/real_plant/metadata')).seen_by_other).toBeUndefined();
      expect((await read('/file/real_plant/images/00001_rgb/metadata')).seen_by_other).toBeUndefined();
      expect((await post('/scan/real_plant/metadata', { metadata: { seen_by_other: 1 } }, 'admin')).status).toBe(200);
      expect((await post('/file/real_plant/images/00001_rgb/metadata', { metadata: { seen_by_other: 1 } }, 'admin')).status).toBe(200);
      const deadline = Date.now() + 5000;
      while ((await read('/scan/real_plant/metadata')).seen_by_other !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await read('/scan/real_plant/metadata')).seen_by_other).toBe(1);
      expect((await get(`${other.url}/refresh?scan_id=real_plant`)).status).toBe(200);
      expect((await read('/file/real_plant/images/00001_rgb/metadata')).seen_by_other).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('twenty writes at once on one server: every one goes through, none lost', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post('/fileset/real_plant/images/metadata', { metadata: { [`at_once_${i}`]: i } }, 'contrib')));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const md = (await get(url('/fileset/real_plant/images/metadata'))).json().metadata;
    for (let i = 0; i < 20; i++) expect(md[`at_once_${i}`]).toBe(i);
  });

  it('a body over the limit is a 413, storage unchanged', async () => {
    const small = await serve(made.db, { auth: { secret: SECRET, accounts: FAST }, writes: { bodyLimit: 1024 } });
    try {
      const before = await snapshot(made.backend);
      const res = await get(`${small.url}/scan/real_plant/metadata`, { method: 'POST', json: { metadata: { big: 'x'.repeat(4096) } }, headers: { authorization: `Bearer ${token.admin}` } });
      expect(res.status).toBe(413);
      expect(await snapshot(made.backend)).toEqual(before);
    } finally {
      await small.close();
    }
  });

  it('a writer lock held by another writer: 503 ROMI_DB_BUSY with Retry-After, storage unchanged; then the write goes through', async () => {
    const busy = await serve(made.db, { auth: { secret: SECRET, accounts: FAST }, writes: { lockWaitMs: 200 } });
    const holder = new RomiDB(made.backend);
    await holder.connect();
    try {
      for (const [path, body] of [
        ['/scan/locked_scan', { metadata: {} }],
        ['/scan/real_plant/metadata', { metadata: { locked: true } }],
        ['/fileset/real_plant/locked_fs', { metadata: {} }],
        ['/file/real_plant/images/00000_rgb/metadata', { metadata: { locked: true } }],
      ] as const) {
        const before = await snapshot(made.backend);
        const res = await get(`${busy.url}${path}`, { method: 'POST', json: body, headers: { authorization: `Bearer ${token.admin}` } });
        expect(res.status, path).toBe(503);
        expect(res.json().code).toBe('ROMI_DB_BUSY');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(await snapshot(made.backend)).toEqual(before);
      }
      // A refusal is decided without the lock.
      expect((await get(`${busy.url}/scan/real_plant/metadata`, { method: 'POST', json: { metadata: { a: 1 } }, headers: { authorization: `Bearer ${token.reader}` } })).status).toBe(403);
    } finally {
      await holder.disconnect();
    }
    try {
      const res = await get(`${busy.url}/scan/real_plant/metadata`, { method: 'POST', json: { metadata: { locked: false } }, headers: { authorization: `Bearer ${token.admin}` } });
      expect(res.status).toBe(200);
      expect(res.json().metadata.locked).toBe(false);
    } finally {
      await busy.close();
    }
  });
});
