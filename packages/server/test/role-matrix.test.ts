// The role matrix: every route that needs or uses authentication × every kind of caller, with the
// expected status written out as a table (below: it is the documentation). Each cell is one
// request on a server with `auth`, on each backend, and checks:
// - the status, and for a refusal its error `code` (401 also WWW-Authenticate: Bearer);
// - the storage, every key and version tag listed before and after the request: a refusal
//   changes nothing (except a wrong password, which counts the failure in users.json, by
//   design), a success changes only what the route should (keys under the scan written, the
//   token records under `.romidb-tokens/`, `users.json`) and nothing else.
// Credentials (logins, API tokens) are made before the first listing, so they are not counted.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormData, fetch, request } from 'undici';
import { RomiDB, type Backend } from '@romi/db-core';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';
import { get, localTargets, serve, targets, type Answer, type Running } from './harness.js';

/** Cheap hashes: these tests are about routes, not argon2's cost (accounts.test.ts checks the real one). */
const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
const SECRET = randomBytes(48);
const PASSWORD = 'correct horse battery';

// ---- the callers ----

const CALLERS = ['none', 'malformed', 'expired', 'revoked', 'guest', 'reader', 'contributor', 'owner', 'sharer', 'admin', 'api_in', 'api_out'] as const;
type Caller = (typeof CALLERS)[number];
/**
 * none: no Authorization header. malformed: `Bearer not.a.token`. expired: an access token of
 * `admin` signed with the server's key, expired an hour ago. revoked: `admin`'s tokens after
 * POST /logout. guest: a reader named `guest` (plantdb's demo account). reader, contributor, admin:
 * accounts of that role. owner: a reader who is the `owner` of real_plant. sharer: a reader in
 * the group `lab`, which real_plant's `sharing` lists. api_in: an API token of `admin` limited to
 * `real_plant` and `new_*` (read, write, create). api_out: an API token of `admin` limited to
 * `other_*` (read, write, create).
 */
const ACCOUNT_CALLERS: readonly Caller[] = ['guest', 'reader', 'contributor', 'owner', 'sharer', 'admin'];
const isAccount = (c: Caller): boolean => ACCOUNT_CALLERS.includes(c);

// ---- the expected statuses ----

/** One row of the matrix: the statuses for the callers, in the order of CALLERS. */
type Row = [number, number, number, number, number, number, number, number, number, number, number, number];

// prettier-ignore
const EXPECTED: Record<string, Row> = {
  //                                                none  malf  expd  revk  guest read  contr owner share admin api+  api-
  'POST /scan/<new id>':                           [401,  401,  401,  401,  403,  403,  201,  403,  403,  201,  201,  403],
  'POST /scan/<id>/metadata':                      [401,  401,  401,  401,  403,  403,  200,  200,  200,  200,  200,  403],
  'POST /fileset/<s>/<new fs>':                    [401,  401,  401,  401,  403,  403,  201,  201,  201,  201,  201,  403],
  'POST /fileset/<s>/<fs>/metadata':               [401,  401,  401,  401,  403,  403,  200,  200,  200,  200,  200,  403],
  'POST /file/<s>/<fs>/<f>/metadata':              [401,  401,  401,  401,  403,  403,  200,  200,  200,  200,  200,  403],
  'POST /file/<s>/<fs>/<new f> (upload)':          [401,  401,  401,  401,  403,  403,  201,  201,  201,  201,  201,  403],
  // administrators only (manage_users); an API token is not accepted at all (access tokens only).
  'POST /register':                                [401,  401,  401,  401,  403,  403,  403,  403,  403,  201,  401,  401],
  // any account, for itself; access tokens only.
  'POST /create-api-token':                        [401,  401,  401,  401,  200,  200,  200,  200,  200,  200,  401,  401],
  // access, refresh or API token: it ends that session (or that API token).
  'POST /logout':                                  [401,  401,  401,  401,  200,  200,  200,  200,  200,  200,  200,  200],
  'POST /token-validation':                        [401,  401,  401,  401,  200,  200,  200,  200,  200,  200,  200,  200],
  // the caller's refresh token in the body (none: no `refresh_token` field, a 400; an API token is the wrong type).
  'POST /token-refresh':                           [400,  401,  401,  401,  200,  200,  200,  200,  200,  200,  401,  401],
  // the login routes ignore the Authorization header: the caller's header is sent along, and
  // the account is the caller's own (token callers: `reader`; wrong password: an account of
  // the cell's own, so that failures never add up to a lock-out; locked: `locky`, locked for an hour).
  'GET /login?username=':                          [200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200],
  'POST /login (right password)':                  [200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200],
  'POST /login (wrong password)':                  [401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401],
  'POST /login (locked account)':                  [401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401],
  'POST /login (unknown user)':                    [401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401,  401],
  // the last uploads: a raw body stored at X-File-Path (WRITE on the scan), a scan from a ZIP (CREATE).
  'POST /files/<s> (X-File-Path)':                 [401,  401,  401,  401,  403,  403,  201,  201,  201,  201,  201,  403],
  'POST /archive/<new id> (zip_file)':             [401,  401,  401,  401,  403,  403,  200,  403,  403,  200,  200,  403],
};

/** The error code of each refusal status, per route (a login's 401 is about credentials, not a token). */
function refusalCode(route: string, status: number): string {
  if (status === 400) return 'ROMI_INVALID_ARGUMENT';
  if (status === 403) return 'ROMI_FORBIDDEN';
  return route.startsWith('POST /login') ? 'ROMI_INVALID_CREDENTIALS' : 'ROMI_INVALID_TOKEN';
}

// ---- what each route may change in storage ----

/**
 * `allowed`: prefixes (ending in `/`) or exact keys every changed, added or removed key must
 * match; `required`: each must match at least one changed key. A refusal changes nothing, unless
 * the route says otherwise.
 */
interface Change {
  allowed: string[];
  required: string[];
}
const NOTHING: Change = { allowed: [], required: [] };
const TOKENS = '.romidb-tokens/';
const USERS = 'users.json';
const JOURNAL = '.romidb-changes.json';

interface Cell {
  caller: Caller;
  /** The Authorization header of the caller (none: undefined). */
  headers: Record<string, string>;
  /** The caller's refresh token (token-only callers: their token, or none). */
  refresh: string | undefined;
}

interface Route {
  name: string;
  /** The route uses up the caller's token: make fresh credentials for each cell. */
  consumes?: boolean;
  send(cell: Cell): Promise<Answer>;
  onSuccess: (caller: Caller) => Change;
  onRefusal?: Change;
  /** More checks of a success. */
  check?(res: Answer, cell: Cell): void | Promise<void>;
  /** More checks of a refusal. */
  checkRefusal?(res: Answer, cell: Cell): void;
}

/**
 * Every stored object and its version tag, romidb's own entries included (`.romidb-*`: the token
 * records, locks, temporary files), which `list('')` leaves out; on a file system an internal
 * folder is listed as one entry, so `.romidb-tokens/` is listed on its own.
 */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const listing = async (prefix: string) => {
    for await (const e of backend.list(prefix as never, { internal: true })) {
      if (e.kind !== 'object' || e.key.endsWith('/') || e.key === TOKENS.slice(0, -1)) continue;
      out.set(e.key, e.etag);
    }
  };
  await Promise.all([listing(''), listing(TOKENS)]);
  return out;
}

/** The keys added, removed or changed between two snapshots. */
function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set<string>();
  for (const [k, v] of before) if (after.get(k) !== v) keys.add(k);
  for (const k of after.keys()) if (!before.has(k)) keys.add(k);
  return [...keys].sort();
}

const matches = (key: string, pattern: string): boolean => (pattern.endsWith('/') ? key.startsWith(pattern) : key === pattern);

// ---- hand-made tokens ----

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const hex = (): string => randomBytes(16).toString('hex');

/** A token of `sub` signed with the server's key (HS512, plantdb's claims), expired an hour ago. */
function expiredToken(type: 'access' | 'refresh', sub = 'admin'): string {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64({ iss: 'plantdb-api', aud: 'plantdb-client', sub, jti: hex(), sid: hex(), iat: now - 7200, exp: now - 3600, type })}`;
  return `${input}.${createHmac('sha512', SECRET).update(input).digest('base64url')}`;
}

/** An Answer of the harness from a status, headers and body. */
function answer(status: number, raw: Record<string, string | string[] | undefined>, body: Buffer): Answer {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return { status, headers, body, json: () => JSON.parse(body.toString('utf8')), text: () => body.toString('utf8') };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

// The s3db target runs too when the whole run stays quick; ROMI_MATRIX_LOCAL=1 keeps to fsdb and memdb.
const TARGETS = process.env.ROMI_MATRIX_LOCAL === '1' ? localTargets() : targets();

describe.each(TARGETS)('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  const url = (path: string) => `${server.url}${path}`;
  const post = (path: string, json: unknown, headers: Record<string, string> = {}) => get(url(path), { method: 'POST', json, headers });
  const login = async (username: string): Promise<{ access_token: string; refresh_token: string }> => {
    const res = await post('/login', { username, password: PASSWORD });
    expect(res.status, `login ${username}: ${res.text()}`).toBe(200);
    return res.json();
  };
  let adminAccess: string;
  let zip: Buffer;
  let revoked: { access_token: string; refresh_token: string };
  const cached = new Map<Caller, Cell>();

  /** The caller's credentials: made once, or for this cell only when the route uses them up. */
  async function credentials(caller: Caller, fresh: boolean): Promise<Cell> {
    if (!fresh && cached.has(caller)) return cached.get(caller)!;
    let cell: Cell;
    if (caller === 'none') cell = { caller, headers: {}, refresh: undefined };
    else if (caller === 'malformed') cell = { caller, headers: bearer('not.a.token'), refresh: 'not.a.token' };
    else if (caller === 'expired') cell = { caller, headers: bearer(expiredToken('access')), refresh: expiredToken('refresh') };
    else if (caller === 'revoked') cell = { caller, headers: bearer(revoked.access_token), refresh: revoked.refresh_token };
    else if (caller === 'api_in' || caller === 'api_out') {
      const datasets = caller === 'api_in' ? { real_plant: ['read', 'write', 'create'], 'new_*': ['read', 'write', 'create'] } : { 'other_*': ['read', 'write', 'create'] };
      const res = await post('/create-api-token', { datasets }, bearer(adminAccess));
      expect(res.status, res.text()).toBe(200);
      const token = res.json().api_token as string;
      cell = { caller, headers: bearer(token), refresh: token };
    } else {
      const pair = await login(caller);
      cell = { caller, headers: bearer(pair.access_token), refresh: pair.refresh_token };
    }
    if (!fresh) cached.set(caller, cell);
    return cell;
  }

  /** The account a login route logs in with: the caller's own, `reader` for a token-only caller. */
  const loginName = (caller: Caller): string => (isAccount(caller) ? caller : 'reader');

  /** A write: keys under the scan, and the servers' change journal (which records the scan written). */
  const underScan = (scan: string): Change => ({ allowed: [`${scan}/`, JOURNAL], required: [`${scan}/`] });

  const ROUTES: Route[] = [
    {
      name: 'POST /scan/<new id>',
      send: (c) => post(`/scan/new_${c.caller}`, { metadata: { made_by: c.caller } }, c.headers),
      onSuccess: (caller) => underScan(`new_${caller}`),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: 'Scan created successfully', id: `new_${c.caller}` });
        expect((await get(url(`/scan/new_${c.caller}/metadata`))).json().metadata).toMatchObject({ made_by: c.caller, owner: isAccount(c.caller) ? c.caller : 'admin' });
      },
    },
    {
      name: 'POST /scan/<id>/metadata',
      send: (c) => post('/scan/real_plant/metadata', { metadata: { [`by_${c.caller}`]: 1 } }, c.headers),
      onSuccess: () => underScan('real_plant'),
      check: (res, c) => {
        expect(res.json().metadata).toMatchObject({ [`by_${c.caller}`]: 1, owner: 'owner', sharing: ['lab'] });
      },
    },
    {
      name: 'POST /fileset/<s>/<new fs>',
      send: (c) => post(`/fileset/real_plant/fs_${c.caller}`, { metadata: { made_by: c.caller } }, c.headers),
      onSuccess: () => underScan('real_plant'),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: "Fileset created successfully in 'real_plant'.", id: `fs_${c.caller}` });
        expect((await get(url(`/fileset/real_plant/fs_${c.caller}/metadata`))).json()).toEqual({ metadata: { made_by: c.caller } });
      },
    },
    {
      name: 'POST /fileset/<s>/<fs>/metadata',
      send: (c) => post('/fileset/real_plant/images/metadata', { metadata: { [`by_${c.caller}`]: 1 } }, c.headers),
      onSuccess: () => underScan('real_plant'),
      check: (res, c) => {
        expect(res.json().metadata).toMatchObject({ [`by_${c.caller}`]: 1 });
      },
    },
    {
      name: 'POST /file/<s>/<fs>/<f>/metadata',
      send: (c) => post('/file/real_plant/images/00000_rgb/metadata', { metadata: { [`by_${c.caller}`]: 1 } }, c.headers),
      onSuccess: () => underScan('real_plant'),
      check: (res, c) => {
        expect(res.json().metadata).toMatchObject({ [`by_${c.caller}`]: 1 });
      },
    },
    {
      name: 'POST /file/<s>/<fs>/<new f> (upload)',
      send: async (c) => {
        const form = new FormData();
        form.append('ext', 'json');
        form.append('metadata', JSON.stringify({ uploaded_by: c.caller }));
        form.append('file', new Blob([JSON.stringify({ caller: c.caller })], { type: 'application/json' }), `up_${c.caller}.json`);
        const res = await fetch(url(`/file/real_plant/images/up_${c.caller}`), { method: 'POST', body: form, headers: c.headers });
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => (headers[k] = v));
        return answer(res.status, headers, Buffer.from(await res.arrayBuffer()));
      },
      onSuccess: () => underScan('real_plant'),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: "File created and written successfully in fileset 'images'.", id: `up_${c.caller}` });
        expect((await get(url(`/file/real_plant/images/up_${c.caller}`))).json()).toEqual({ caller: c.caller });
        expect((await get(url(`/file/real_plant/images/up_${c.caller}/metadata`))).json().metadata).toMatchObject({ uploaded_by: c.caller });
      },
    },
    {
      name: 'POST /register',
      send: (c) => post('/register', { username: `reg_${c.caller}`, fullname: 'New One', password: PASSWORD }, c.headers),
      onSuccess: () => ({ allowed: [USERS], required: [USERS] }),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: 'User successfully created' });
        expect((await get(url(`/login?username=reg_${c.caller}`))).json().exists).toBe(true);
      },
    },
    {
      name: 'POST /create-api-token',
      send: (c) => post('/create-api-token', { datasets: { 'x_*': ['read'] } }, c.headers),
      onSuccess: () => ({ allowed: [TOKENS], required: [TOKENS] }),
      check: async (res) => {
        expect(res.json().message).toBe('API Token generated successfully');
        expect((await post('/token-validation', undefined, bearer(res.json().api_token))).status).toBe(200);
      },
    },
    {
      name: 'POST /logout',
      consumes: true,
      send: (c) => post('/logout', undefined, c.headers),
      onSuccess: () => ({ allowed: [TOKENS], required: [TOKENS] }),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: `Logout successful from ${isAccount(c.caller) ? c.caller : 'admin'}` });
        // The token is refused from now on.
        expect((await post('/token-validation', undefined, c.headers)).status).toBe(401);
      },
    },
    {
      name: 'POST /token-validation',
      send: (c) => post('/token-validation', undefined, c.headers),
      onSuccess: () => NOTHING,
      check: (res, c) => {
        expect(res.json()).toMatchObject({ message: 'Token validation successful', user: { username: isAccount(c.caller) ? c.caller : 'admin' } });
      },
    },
    {
      name: 'POST /token-refresh',
      consumes: true,
      send: (c) => post('/token-refresh', c.refresh === undefined ? {} : { refresh_token: c.refresh }),
      onSuccess: () => ({ allowed: [TOKENS], required: [TOKENS] }),
      check: async (res, c) => {
        expect(res.json().message).toBe('Token refreshed successfully');
        expect((await post('/token-validation', undefined, bearer(res.json().access_token))).status).toBe(200);
        // Used once: refused again, and the old access token with it.
        expect((await post('/token-refresh', { refresh_token: c.refresh })).status).toBe(401);
        expect((await post('/token-validation', undefined, c.headers)).status).toBe(401);
      },
    },
    {
      name: 'GET /login?username=',
      send: (c) => get(url(`/login?username=${loginName(c.caller)}`), { headers: c.headers }),
      onSuccess: () => NOTHING,
      check: (res, c) => {
        expect(res.json()).toEqual({ username: loginName(c.caller), exists: true });
      },
    },
    {
      name: 'POST /login (right password)',
      send: (c) => post('/login', { username: loginName(c.caller), password: PASSWORD }, c.headers),
      // last_login, and the new session.
      onSuccess: () => ({ allowed: [USERS, TOKENS], required: [USERS, TOKENS] }),
      check: (res, c) => {
        expect(res.json()).toMatchObject({ message: 'Login successful', user: { username: loginName(c.caller) } });
      },
    },
    {
      name: 'POST /login (wrong password)',
      send: (c) => post('/login', { username: `wrong_${c.caller}`, password: 'not the password' }, c.headers),
      onSuccess: () => NOTHING,
      // The failure is counted in users.json (failed_attempts, last_failed_attempt): that key only.
      onRefusal: { allowed: [USERS], required: [USERS] },
    },
    {
      name: 'POST /login (locked account)',
      // The right password: a locked account is refused without checking it, and nothing is counted.
      send: (c) => post('/login', { username: 'locky', password: PASSWORD }, c.headers),
      onSuccess: () => NOTHING,
      checkRefusal: (res) => {
        expect.soft(res.json().message, 'locked: the answer of a wrong password').toBe('Invalid credentials');
        expect.soft(Number(res.headers['retry-after']), 'locked: Retry-After').toBeGreaterThan(0);
      },
    },
    {
      name: 'POST /login (unknown user)',
      send: (c) => post('/login', { username: 'nobody_here', password: PASSWORD }, c.headers),
      onSuccess: () => NOTHING,
    },
    {
      name: 'POST /files/<s> (X-File-Path)',
      send: async (c) => {
        const res = await request(url('/files/real_plant'), { method: 'POST', body: Buffer.from(JSON.stringify({ raw: c.caller })), headers: { 'content-type': 'application/octet-stream', 'x-file-path': `images/raw_${c.caller}.json`, ...c.headers } });
        return answer(res.statusCode, res.headers, Buffer.from(await res.body.arrayBuffer()));
      },
      onSuccess: () => underScan('real_plant'),
      check: async (res, c) => {
        expect(res.json()).toEqual({ message: `File images/raw_${c.caller}.json received and saved` });
        expect((await get(url(`/files/real_plant/images/raw_${c.caller}.json`))).json()).toEqual({ raw: c.caller });
      },
    },
    {
      name: 'POST /archive/<new id> (zip_file)',
      send: async (c) => {
        const form = new FormData();
        form.append('zip_file', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), 'scan.zip');
        const res = await fetch(url(`/archive/new_zip_${c.caller}`), { method: 'POST', body: form, headers: c.headers });
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => (headers[k] = v));
        return answer(res.status, headers, Buffer.from(await res.arrayBuffer()));
      },
      onSuccess: (caller) => underScan(`new_zip_${caller}`),
      check: async (res, c) => {
        expect(res.json()).toMatchObject({ message: 'ZIP file processed successfully', files: expect.arrayContaining([expect.any(String)]) });
        expect((await get(url('/scans'))).json()).toContain(`new_zip_${c.caller}`);
        expect((await get(url(`/scan/new_zip_${c.caller}/filesets`))).json().filesets).toEqual((await get(url('/scan/no_images/filesets'))).json().filesets);
      },
    },
  ];

  beforeAll(async () => {
    made = await target.make();
    const accounts = new AccountStore(made.backend, FAST);
    for (const [username, role] of [
      ['admin', 'admin'],
      ['contributor', 'contributor'],
      ['reader', 'reader'],
      ['guest', 'reader'],
      ['owner', 'reader'],
      ['sharer', 'reader'],
      ['locky', 'reader'],
    ] as const) {
      await accounts.addUser({ username, fullname: `The ${username}`, password: PASSWORD, roles: [role] });
    }
    for (const caller of CALLERS) await accounts.addUser({ username: `wrong_${caller}`, password: PASSWORD, roles: ['reader'] });
    await accounts.lock('locky', new Date(Date.now() + 3600_000));
    await accounts.addGroup({ name: 'lab', createdBy: 'admin', users: ['sharer'] });
    // real_plant belongs to `owner` and is shared with the group `lab`.
    const writer = new RomiDB(made.backend);
    await writer.connect();
    await (await writer.getScan('real_plant')).setMetadata({ owner: 'owner', sharing: ['lab'] });
    await writer.disconnect();
    server = await serve(made.db, { auth: { secret: SECRET, accounts: FAST } });
    // What POST /archive uploads: a small scan as GET /archive sends it.
    zip = (await get(url('/archive/no_images'))).body;
    adminAccess = (await login('admin')).access_token;
    revoked = await login('admin');
    expect((await post('/logout', undefined, bearer(revoked.access_token))).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  it('the table names every route once, and a status for every caller', () => {
    expect(ROUTES.map((r) => r.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const route of ROUTES) {
    it(route.name, async () => {
      for (const [i, caller] of CALLERS.entries()) {
        const where = `${route.name} × ${caller}`;
        const status = EXPECTED[route.name]![i]!;
        const cell = await credentials(caller, route.consumes === true);
        const before = await snapshot(made.backend);
        const res = await route.send(cell);
        const changed = changedKeys(before, await snapshot(made.backend));
        expect.soft(res.status, `${where}: ${res.text()}`).toBe(status);
        const success = status < 400;
        if (!success) {
          expect.soft(res.json().code, where).toBe(refusalCode(route.name, status));
          if (status === 401) expect.soft(res.headers['www-authenticate'], where).toMatch(/^Bearer/);
          route.checkRefusal?.(res, cell);
        } else if (res.status === status && route.check) {
          await route.check(res, cell);
        }
        const change = success ? route.onSuccess(caller) : (route.onRefusal ?? NOTHING);
        const outside = changed.filter((k) => !change.allowed.some((p) => matches(k, p)));
        expect.soft(outside, `${where}: keys changed outside ${JSON.stringify(change.allowed)}`).toEqual([]);
        for (const p of change.required) expect.soft(changed.some((k) => matches(k, p)), `${where}: nothing changed under ${p}`).toBe(true);
      }
    });
  }
});
