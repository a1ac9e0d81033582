// plantdb's authentication routes over the account store and the token service: /login (GET and
// POST), /logout, /token-validation, /token-refresh, /register, /create-api-token, on each
// backend, with two servers over one database for logout. Statuses are romidb's (401 for every
// token or credential problem, 403 for a missing permission), bodies plantdb's.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';

/** Cheap hashes: these tests are about routes, not argon2's cost (accounts.test.ts checks the real one). */
const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
import { get, localTargets, serve, targets, type Running } from './harness.js';

const SECRET = randomBytes(48);
const PASSWORD = 'correct horse battery';

describe('without `auth`, the authentication routes do not exist', () => {
  it('POST /login is a 404', async () => {
    const made = await localTargets()[1]!.make();
    const server = await serve(made.db);
    try {
      expect((await get(`${server.url}/login`, { json: { username: 'admin', password: PASSWORD } })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  let other: Running;
  const url = (path: string) => `${server.url}${path}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = async (username: string, password = PASSWORD) => get(url('/login'), { json: { username, password } });

  beforeAll(async () => {
    made = await target.make();
    const accounts = new AccountStore(made.backend, FAST);
    await accounts.addUser({ username: 'admin', fullname: 'Lab Admin', password: PASSWORD, roles: ['admin'] });
    await accounts.addUser({ username: 'reader', fullname: 'A Reader', password: PASSWORD, roles: ['reader'] });
    await accounts.addUser({ username: 'locky', password: PASSWORD, roles: ['reader'] });
    server = await serve(made.db, { auth: { secret: SECRET, accounts: FAST } });
    // A second process over the same database (a second server object here).
    other = await serve(made.db, { auth: { secret: SECRET, accounts: FAST } });
  });
  afterAll(async () => {
    await server?.close();
    await other?.close();
    await made?.dispose();
    await target.close();
  });

  it('GET /login tells whether a username exists', async () => {
    expect((await get(url('/login?username=admin'))).json()).toEqual({ username: 'admin', exists: true });
    expect((await get(url('/login?username=nobody'))).json()).toEqual({ username: 'nobody', exists: false });
    expect((await get(url('/login'))).status).toBe(400);
  });

  it('POST /login: tokens for the right password; 400 without fields; 401 otherwise, with WWW-Authenticate', async () => {
    const ok = await login('admin');
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ message: 'Login successful', user: { username: 'admin', fullname: 'Lab Admin' } });
    expect(ok.json().access_token.split('.')).toHaveLength(3);
    expect(ok.json().refresh_token.split('.')).toHaveLength(3);
    expect((await get(url('/login'), { json: { username: 'admin' } })).status).toBe(400);
    expect((await get(url('/login'), { json: [] })).status).toBe(400);
    for (const res of [await login('admin', 'wrong password'), await login('nobody')]) {
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({ message: 'Invalid credentials', code: 'ROMI_INVALID_CREDENTIALS' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
  });

  it('a locked account answers as a wrong password, with Retry-After; other accounts are not affected', async () => {
    for (let i = 0; i < 3; i++) expect((await login('locky', 'wrong password')).status).toBe(401);
    const locked = await login('locky');
    expect(locked.status).toBe(401);
    expect(locked.json().message).toBe('Invalid credentials');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login('reader')).status).toBe(200);
  });

  it('POST /token-validation: the token owner; 401 for none, garbage, or a refresh token', async () => {
    const { access_token, refresh_token } = (await login('reader')).json();
    const ok = await get(url('/token-validation'), { method: 'POST', headers: bearer(access_token) });
    expect(ok.json()).toEqual({ message: 'Token validation successful', user: { username: 'reader', fullname: 'A Reader' } });
    for (const headers of [{}, bearer('not.a.token'), bearer(refresh_token), { authorization: access_token }]) {
      const res = await get(url('/token-validation'), { method: 'POST', headers });
      expect(res.status).toBe(401);
      expect(res.json().message).toMatch(/^Token validation failed: /);
    }
  });

  it('POST /token-refresh rotates the pair once; the used refresh token is refused', async () => {
    const { refresh_token } = (await login('reader')).json();
    const next = await get(url('/token-refresh'), { json: { refresh_token } });
    expect(next.status).toBe(200);
    expect(next.json().message).toBe('Token refreshed successfully');
    expect((await get(url('/token-validation'), { method: 'POST', headers: bearer(next.json().access_token) })).status).toBe(200);
    expect((await get(url('/token-refresh'), { json: { refresh_token } })).status).toBe(401);
    expect((await get(url('/token-refresh'), { json: {} })).status).toBe(400);
  });

  it('POST /logout revokes the session, also for another server on the same database', async () => {
    const { access_token, refresh_token } = (await login('reader')).json();
    expect((await get(`${other.url}/token-validation`, { method: 'POST', headers: bearer(access_token) })).status).toBe(200);
    const out = await get(url('/logout'), { method: 'POST', headers: bearer(access_token) });
    expect(out.json()).toEqual({ message: 'Logout successful from reader' });
    expect((await get(`${other.url}/token-validation`, { method: 'POST', headers: bearer(access_token) })).status).toBe(401);
    expect((await get(`${other.url}/token-refresh`, { json: { refresh_token } })).status).toBe(401);
    expect((await get(url('/logout'), { method: 'POST' })).status).toBe(401);
  });

  it('POST /register: administrators only (403 for a reader), 409 for an existing name, 400 for a bad one', async () => {
    const admin = (await login('admin')).json().access_token;
    const reader = (await login('reader')).json().access_token;
    const denied = await get(url('/register'), { json: { username: 'newbie', password: PASSWORD }, headers: bearer(reader) });
    expect(denied.status).toBe(403);
    expect(denied.json().code).toBe('ROMI_FORBIDDEN');
    expect((await get(url('/register'), { json: { username: 'newbie', password: PASSWORD } })).status).toBe(401);
    const made = await get(url('/register'), { json: { username: 'Newbie', fullname: 'New', password: PASSWORD }, headers: bearer(admin) });
    expect(made.status).toBe(201);
    expect(made.json()).toEqual({ message: 'User successfully created' });
    expect((await login('newbie')).status).toBe(200);
    expect((await get(url('/register'), { json: { username: 'newbie', password: PASSWORD }, headers: bearer(admin) })).status).toBe(409);
    expect((await get(url('/register'), { json: { username: '../evil', password: PASSWORD }, headers: bearer(admin) })).status).toBe(400);
    expect((await get(url('/register'), { json: { username: 'shorty', password: 'x' }, headers: bearer(admin) })).status).toBe(400);
  });

  it('POST /create-api-token: an API token that authenticates; 400 for a bad lifetime; never from an API token', async () => {
    const access = (await login('reader')).json().access_token;
    const res = await get(url('/create-api-token'), { json: { token_exp: 600, datasets: { 'real_plant*': ['read'] } }, headers: bearer(access) });
    expect(res.status).toBe(200);
    expect(res.json().message).toBe('API Token generated successfully');
    expect(Date.parse(res.json()['expiration date'])).toBeGreaterThan(Date.now());
    const api = res.json().api_token;
    expect((await get(url('/token-validation'), { method: 'POST', headers: bearer(api) })).status).toBe(200);
    expect((await get(url('/create-api-token'), { json: {}, headers: bearer(api) })).status).toBe(401);
    expect((await get(url('/create-api-token'), { json: { token_exp: -1 }, headers: bearer(access) })).status).toBe(400);
    expect((await get(url('/create-api-token'), { json: { datasets: [1] }, headers: bearer(access) })).status).toBe(400);
  });

  it('account and token files are never served', async () => {
    for (const path of ['/files/users.json', '/files/.romidb-tokens/revoked', '/files/real_plant/../users.json']) {
      const res = await get(url(path));
      expect(res.status, path).toBe(404);
      expect(res.text()).not.toContain('argon2');
    }
  });
});
