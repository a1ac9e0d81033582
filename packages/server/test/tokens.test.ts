/**
 * The tokens module (src/auth/tokens.ts): every way a token is refused, the signing secret, the
 * dataset permissions of API tokens, and sessions and revocations shared through storage by
 * several TokenService objects (several server processes) on memdb, fsdb and s3db (s3rver).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isInternalKey, isRomiError, type Backend } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB } from '@romi/memdb';
import { S3DB } from '@romi/s3db';
import { suiteS3Targets, type S3TestServer } from '@romi/test-utils';
import { describeError } from '../src/http-errors.js';
import {
  createSecretFile,
  effectivePermissions,
  InvalidTokenError,
  loadSecret,
  parseDatasetScope,
  TokenService,
  type Permission,
  type TokenErrorReason,
  type TokenServiceOptions,
} from '../src/auth/tokens.js';
import { get, serve } from './harness.js';

const SECRET = randomBytes(64);
const OTHER_SECRET = randomBytes(64);
const T0 = Math.floor(Date.now() / 1000) * 1000;

/** A clock the test moves. */
function clock(start = T0): { now: () => number; advance(seconds: number): void } {
  let t = start;
  return { now: () => t, advance: (s) => void (t += s * 1000) };
}

function service(backend: Backend, opts: Partial<TokenServiceOptions> = {}): TokenService {
  return new TokenService({ backend, secret: SECRET, pruneIntervalMs: 0, ...opts });
}

async function refusal(promise: Promise<unknown>): Promise<InvalidTokenError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the token was accepted').toBeInstanceOf(InvalidTokenError);
  return err as InvalidTokenError;
}

async function expectRefused(promise: Promise<unknown>, reason: TokenErrorReason): Promise<void> {
  const err = await refusal(promise);
  expect(err.reason, err.message).toBe(reason);
  expect(isRomiError(err, ErrorCodes.INVALID_TOKEN)).toBe(true);
  expect(describeError(err).status).toBe(401);
}

// ---- hand-made tokens ----

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hex = (): string => randomBytes(16).toString('hex');

function claims(overrides: Record<string, unknown> = {}, nowS = T0 / 1000): Record<string, unknown> {
  return { iss: 'plantdb-api', aud: 'plantdb-client', sub: 'alice', jti: hex(), sid: hex(), iat: nowS, exp: nowS + 3600, type: 'access', ...overrides };
}

/** A compact JWS made by hand: any header, any payload, HMAC with any hash and key (or no signature). */
function craft(payload: unknown, opts: { alg?: string; key?: Uint8Array; hash?: 'sha256' | 'sha384' | 'sha512' | 'none'; header?: Record<string, unknown> } = {}): string {
  const header = opts.header ?? { alg: opts.alg ?? 'HS512', typ: 'JWT' };
  const input = `${b64(header)}.${b64(payload)}`;
  const hash = opts.hash ?? 'sha512';
  const signature = hash === 'none' ? '' : createHmac(hash, opts.key ?? SECRET).update(input).digest('base64url');
  return `${input}.${signature}`;
}

const without = (key: string): Record<string, unknown> => {
  const c = claims();
  delete c[key];
  return c;
};

// ---- refusals (verification does not depend on the backend) ----

describe('tokens: what is refused', () => {
  const db = new MemDB();
  const tokens = service(db.backend, { now: () => T0 });

  it('accepts what it issues: plantdb claims, HS512, the lifetimes 3600 s and 86400 s', async () => {
    const pair = await tokens.login('alice');
    const [header, payload] = pair.accessToken.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toEqual({ alg: 'HS512', typ: 'JWT' });
    expect(payload).toMatchObject({ iss: 'plantdb-api', aud: 'plantdb-client', sub: 'alice', type: 'access', iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    expect(payload.jti).toMatch(/^[0-9a-f]{32}$/);
    const refresh = JSON.parse(Buffer.from(pair.refreshToken.split('.')[1]!, 'base64url').toString());
    expect(refresh).toMatchObject({ type: 'refresh', exp: T0 / 1000 + 86_400, sid: payload.sid });
    expect(refresh.jti).not.toBe(payload.jti);
    expect(pair).toMatchObject({ accessExpiresAt: T0 / 1000 + 3600, refreshExpiresAt: T0 / 1000 + 86_400 });
    expect(await tokens.authenticate(pair.accessToken)).toMatchObject({ sub: 'alice', type: 'access', sid: payload.sid, jti: payload.jti });
    // A token made by hand with the right key and claims is accepted too (the checks are not on the text).
    expect(await tokens.authenticate(craft(claims({ sid: payload.sid })))).toMatchObject({ sub: 'alice' });
  });

  it('refuses alg "none" and every algorithm but HS512', async () => {
    const c = claims();
    await expectRefused(tokens.authenticate(craft(c, { alg: 'none', hash: 'none' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'none' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'None', hash: 'none' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'HS256', hash: 'sha256' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'HS384', hash: 'sha384' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'RS256' })), 'algorithm');
    await expectRefused(tokens.authenticate(craft(c, { alg: 'ES512' })), 'algorithm');
  });

  it('refuses another key and an altered token', async () => {
    await expectRefused(tokens.authenticate(craft(claims(), { key: OTHER_SECRET })), 'signature');
    const foreign = await service(new MemDB().backend, { secret: OTHER_SECRET, now: () => T0 }).login('alice');
    await expectRefused(tokens.authenticate(foreign.accessToken), 'signature');
    const [h, , s] = (await tokens.login('alice')).accessToken.split('.');
    await expectRefused(tokens.authenticate(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`), 'signature');
    await expectRefused(tokens.authenticate(`${h}.${b64(claims())}.`), 'signature');
  });

  it('refuses a wrong issuer or audience, and every missing claim', async () => {
    await expectRefused(tokens.authenticate(craft(claims({ iss: 'someone-else' }))), 'claims');
    await expectRefused(tokens.authenticate(craft(claims({ aud: 'plantdb-admin' }))), 'claims');
    await expectRefused(tokens.authenticate(craft(claims({ aud: ['other'] }))), 'claims');
    for (const key of ['iss', 'aud', 'sub', 'jti', 'sid', 'iat', 'exp', 'type']) {
      await expectRefused(tokens.authenticate(craft(without(key))), 'claims');
    }
  });

  it('refuses claims of the wrong kind', async () => {
    const bad: Array<Record<string, unknown>> = [
      { type: 'admin' },
      { type: ['access'] },
      { sub: '' },
      { sub: 42 },
      { sub: 'x'.repeat(300) },
      { jti: 'short' },
      { jti: '../../users.json' },
      { sid: 'A'.repeat(32) },
      { sid: '../revoked' },
      { iat: 'yesterday' },
      { exp: 'tomorrow' },
      { iat: T0 / 1000 + 0.5 },
      { exp: T0 / 1000 - 10, iat: T0 / 1000 - 5 },
      { datasets: 'scan*/read' },
      { type: 'api', datasets: 42 },
      { type: 'api', datasets: 'scan*/fly' },
    ];
    for (const overrides of bad) {
      const err = await refusal(tokens.authenticate(craft(claims(overrides))));
      expect(['claims', 'expired'], JSON.stringify(overrides)).toContain(err.reason);
    }
    // exp not after iat: claims (when both are in the past, it is expired first).
    await expectRefused(tokens.authenticate(craft(claims({ iat: T0 / 1000, exp: T0 / 1000 }))), 'claims');
  });

  it('refuses an expired token, and one not valid yet, with a leeway of 2 s', async () => {
    const c = clock();
    const t = service(db.backend, { now: c.now });
    const pair = await t.login('alice');
    c.advance(3601);
    expect(await t.authenticate(pair.accessToken)).toMatchObject({ sub: 'alice' }); // within the leeway
    c.advance(1);
    await expectRefused(t.authenticate(pair.accessToken), 'expired');
    c.advance(86_400 - 3602 - 10);
    expect(await t.refresh(pair.refreshToken)).toHaveProperty('accessToken');
    const late = await t.login('alice');
    c.advance(86_400 + 3);
    await expectRefused(t.refresh(late.refreshToken), 'expired');

    const nowS = T0 / 1000;
    await expectRefused(tokens.authenticate(craft(claims({ iat: nowS + 60, exp: nowS + 3660 }))), 'not-yet-valid');
    await expectRefused(tokens.authenticate(craft(claims({ nbf: nowS + 60 }))), 'not-yet-valid');
    expect(await tokens.authenticate(craft(claims({ iat: nowS + 2, nbf: nowS + 2 })))).toMatchObject({ sub: 'alice' });
  });

  it('refuses a token of another type than the use needs', async () => {
    const pair = await tokens.login('alice');
    const api = await tokens.issueApiToken('alice');
    await expectRefused(tokens.authenticate(pair.refreshToken), 'wrong-type');
    await expectRefused(tokens.authenticate(api.token, ['access']), 'wrong-type');
    await expectRefused(tokens.refresh(pair.accessToken), 'wrong-type');
    await expectRefused(tokens.refresh(api.token), 'wrong-type');
    expect(await tokens.authenticate(api.token)).toMatchObject({ type: 'api', sid: api.jti, jti: api.jti });
  });

  it('refuses what is not a token', async () => {
    const c = claims();
    const texts: unknown[] = [
      undefined,
      null,
      42,
      { token: 'x' },
      '',
      'abc',
      'a.b.c',
      'Bearer x.y.z',
      `${b64({ alg: 'HS512' })}.${b64(c)}`,
      craft('not json'),
      craft([c]),
      craft(c, { header: { typ: 'JWT' } }),
      craft(c, { header: { alg: 'HS512', b64: false, crit: ['b64'] } }),
      craft(c, { header: { alg: 'HS512', crit: ['exp'] } }),
      `${craft(c)}.extra`,
      `${'a'.repeat(20_000)}.b.c`,
    ];
    for (const text of texts) {
      const err = await refusal(tokens.authenticate(text));
      expect(err.reason, String(text).slice(0, 80)).toBe('malformed');
    }
  });

  it('refuses bad options and subjects before anything is written', () => {
    expect(() => new TokenService({ backend: db.backend, secret: new Uint8Array(31) })).toThrow(/at least 32/);
    expect(() => new TokenService({ backend: db.backend, secret: 'x'.repeat(64) as unknown as Uint8Array })).toThrow(/bytes/);
    expect(() => service(db.backend, { accessTtl: 7200, refreshTtl: 3600 })).toThrow(/refreshTtl/);
    expect(() => service(db.backend, { sessionsPerUser: 0 })).toThrow(/sessionsPerUser/);
    expect(() => service(db.backend, { accessTtl: 1.5 })).toThrow(/accessTtl/);
    return Promise.all([
      expect(tokens.login('')).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT }),
      expect(tokens.issueApiToken('alice', { ttl: 366 * 86_400 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT }),
      expect(tokens.issueApiToken('alice', { ttl: 0 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT }),
      expect(tokens.issueApiToken('alice', { datasets: '' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT }),
      expect(tokens.issueApiToken('alice', { datasets: 'x/fly' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT }),
    ]);
  });
});

// ---- the secret ----

describe('tokens: the secret', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'romidb-secret-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const write = async (name: string, content: string | Uint8Array, mode: number): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, content);
    await chmod(path, mode);
    return path;
  };

  it('reads a file of mode 0600 or 0400 as it is, less one line end', async () => {
    const text = 'k'.repeat(40);
    expect(Buffer.from(await loadSecret({ file: await write('a', `${text}\n`, 0o600) })).toString()).toBe(text);
    expect(Buffer.from(await loadSecret({ file: await write('b', `${text}\r\n`, 0o400) })).toString()).toBe(text);
    const binary = randomBytes(64);
    expect(Buffer.from(await loadSecret({ file: await write('c', binary, 0o600) })).equals(binary.at(-1) === 0x0a ? binary.subarray(0, -1) : binary)).toBe(true);
  });

  it.skipIf(process.platform === 'win32')('refuses a file others may read or write', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o666]) {
      const file = await write(`m${mode.toString(8)}`, 'k'.repeat(64), mode);
      await expect(loadSecret({ file })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringContaining('chmod 600') });
    }
  });

  it('refuses a short secret, a missing file, a folder, and no secret at all', async () => {
    await expect(loadSecret({ file: await write('short', `${'k'.repeat(31)}\n`, 0o600) })).rejects.toThrow(/31 bytes long: at least 32/);
    await expect(loadSecret({ file: join(dir, 'missing') })).rejects.toThrow(/ENOENT/);
    const folder = join(dir, 'folder');
    await mkdir(folder, { mode: 0o700 });
    await expect(loadSecret({ file: folder })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(loadSecret({ env: {} })).rejects.toThrow(/ROMIDB_JWT_SECRET/);
    await expect(loadSecret({ env: { ROMIDB_JWT_SECRET: '' } })).rejects.toThrow(/ROMIDB_JWT_SECRET/);
    await expect(loadSecret({ env: { ROMIDB_JWT_SECRET: 'too short' } })).rejects.toThrow(/at least 32/);
  });

  it('reads ROMIDB_JWT_SECRET when no file is given; a file given wins', async () => {
    const value = 'é'.repeat(20); // 40 bytes
    expect(Buffer.from(await loadSecret({ env: { ROMIDB_JWT_SECRET: value } })).toString()).toBe(value);
    const file = await write('wins', 'f'.repeat(48), 0o600);
    expect(Buffer.from(await loadSecret({ file, env: { ROMIDB_JWT_SECRET: value } })).toString()).toBe('f'.repeat(48));
  });

  it('createSecretFile writes 64 random bytes, mode 0600, and never replaces a file', async () => {
    const file = join(dir, 'new-secret');
    await createSecretFile(file);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^[A-Za-z0-9_-]{86}\n$/);
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600);
    const secret = await loadSecret({ file });
    expect(secret.length).toBe(86);
    await expect(createSecretFile(file)).rejects.toMatchObject({ code: ErrorCodes.ALREADY_EXISTS });
    expect(await readFile(file, 'utf8')).toBe(text);
    // The same file, read again (a restart): the same key, so tokens stay valid.
    const backend = new MemDB().backend;
    const pair = await new TokenService({ backend, secret, pruneIntervalMs: 0 }).login('alice');
    const restarted = new TokenService({ backend, secret: await loadSecret({ file }), pruneIntervalMs: 0 });
    expect(await restarted.authenticate(pair.accessToken)).toMatchObject({ sub: 'alice' });
    expect(await restarted.refresh(pair.refreshToken)).toHaveProperty('accessToken');
  });
});

// ---- dataset permissions ----

describe('tokens: dataset permissions of API tokens', () => {
  const scopeOf = (s: Parameters<typeof parseDatasetScope>[0]): Record<string, Permission[]> =>
    Object.fromEntries([...parseDatasetScope(s)].map(([g, p]) => [g, [...p].sort()]));

  it("parses plantdb's string and object forms", () => {
    expect(scopeOf('real_plant*/read,write')).toEqual({ 'real_plant*': ['read', 'write'] });
    expect(scopeOf('dataset_A/Permission.READ;dataset_B/Permission.READ,Permission.CREATE')).toEqual({ dataset_A: ['read'], dataset_B: ['create', 'read'] });
    expect(scopeOf('a/READ, delete;a/manage_users')).toEqual({ a: ['delete', 'manage_users', 'read'] });
    expect(scopeOf('nothing')).toEqual({ nothing: [] });
    expect(scopeOf('')).toEqual({});
    expect(scopeOf({ 'real_plant*': ['read', 'WRITE'], 'arabido?sis_[0-9]': ['Permission.CREATE'] })).toEqual({ 'real_plant*': ['read', 'write'], 'arabido?sis_[0-9]': ['create'] });
    for (const bad of ['a/fly', '/read', 'a/read;;b/read', { a: 'read' }, { a: [1] }, [] as unknown as string, { '': ['read'] }]) {
      expect(() => parseDatasetScope(bad as Parameters<typeof parseDatasetScope>[0]), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    }
  });

  it('effective permissions are the token scope ∩ the user permissions', () => {
    const contributor: Permission[] = ['read', 'write', 'create'];
    const scope = parseDatasetScope('real_plant*/read,write,delete;real_plant_00?/create;arabidopsis_[!0-9]*/read;x[ab]/write');
    const eff = (dataset: string | undefined, user: Permission[] = contributor): Permission[] => [...effectivePermissions(user, scope, dataset)].sort();
    expect(eff('real_plant_analyzed')).toEqual(['read', 'write']); // delete: not the user's
    expect(eff('real_plant_001')).toEqual(['create', 'read', 'write']); // the union of both patterns, ∩ user
    expect(eff('real_plant_001', ['read'])).toEqual(['read']);
    expect(eff('Real_plant_001')).toEqual([]); // fnmatchcase: case matters
    expect(eff('arabidopsis_x1')).toEqual(['read']);
    expect(eff('arabidopsis_1x')).toEqual([]);
    expect(eff('xa')).toEqual(['write']);
    expect(eff('xc')).toEqual([]);
    expect(eff('other')).toEqual([]);
    expect(eff(undefined, ['read', 'manage_users'])).toEqual([]); // nothing outside datasets
    expect([...effectivePermissions(contributor, undefined, 'anything')].sort()).toEqual(['create', 'read', 'write']);
    expect([...effectivePermissions(['read', 'manage_users'], undefined)].sort()).toEqual(['manage_users', 'read']);
    expect([...effectivePermissions(['read'], parseDatasetScope('a.b/read'), 'aXb')]).toEqual([]); // "." is literal
  });

  it('an API token carries its scope; its lifetime is asked or 3600 s', async () => {
    const t = service(new MemDB().backend, { now: () => T0 });
    const api = await t.issueApiToken('alice', { datasets: { 'real_plant*': ['read', 'write'] }, ttl: 7 * 86_400 });
    expect(api.expiresAt).toBe(T0 / 1000 + 7 * 86_400);
    const payload = JSON.parse(Buffer.from(api.token.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ type: 'api', datasets: 'real_plant*/read,write', sub: 'alice' });
    const verified = await t.authenticate(api.token);
    expect([...effectivePermissions(['read', 'write', 'create'], verified.datasets, 'real_plant_1')].sort()).toEqual(['read', 'write']);
    const plain = await t.issueApiToken('alice');
    expect(plain.expiresAt).toBe(T0 / 1000 + 3600);
    expect((await t.authenticate(plain.token)).datasets).toBeUndefined();
  });
});

// ---- sessions and revocations through storage ----

interface Store {
  /** A second backend object over the same storage (another process). */
  backends(): Promise<[Backend, Backend]>;
  close(): Promise<void>;
}

function stores(): Array<[string, () => Store]> {
  const list: Array<[string, () => Store]> = [
    [
      'memdb',
      () => ({
        async backends() {
          const db = new MemDB();
          return [db.backend, new MemDB({ volume: db.volume }).backend];
        },
        async close() {},
      }),
    ],
    [
      'fsdb',
      () => {
        const dirs: string[] = [];
        return {
          async backends() {
            const dir = await mkdtemp(join(tmpdir(), 'romidb-tokens-'));
            dirs.push(dir);
            return [new FSDB(dir).backend, new FSDB(dir).backend];
          },
          close: async () => void (await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))),
        };
      },
    ],
  ];
  for (const target of suiteS3Targets()) {
    list.push([
      `s3db (${target.kind})`,
      () => {
        let server: S3TestServer | undefined;
        return {
          async backends() {
            server ??= await target.start();
            const bucket = await server.bucket();
            const opts = { bucket, prefix: 'db', endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true as const };
            return [new S3DB(opts).backend, new S3DB(opts).backend];
          },
          close: async () => server?.close(),
        };
      },
    ]);
  }
  return list;
}

async function storedKeys(backend: Backend, prefix = '.romidb-tokens/'): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of backend.list(prefix as never, { internal: true })) if (e.kind === 'object' && !e.key.endsWith('/') && !e.key.endsWith('.tmp')) keys.push(e.key);
  return keys.sort();
}

describe.each(stores())('tokens: sessions and revocations on %s', (_name, make) => {
  let store: Store;
  beforeAll(() => {
    store = make();
  });
  afterAll(() => store.close());

  /** Two server processes over one database, on one clock. */
  async function twoServers(opts: Partial<TokenServiceOptions> = {}) {
    const [a, b] = await store.backends();
    const c = clock();
    return { a: service(a, { now: c.now, ...opts }), b: service(b, { now: c.now, ...opts }), backends: [a, b] as const, clock: c };
  }

  it('a logout through one process is refused by the other at once, both tokens of the session', async () => {
    const { a, b } = await twoServers();
    const pair = await a.login('alice');
    const other = await a.login('alice');
    expect(await b.authenticate(pair.accessToken)).toMatchObject({ sub: 'alice' }); // b saw it live…
    await a.revoke(pair.accessToken);
    await expectRefused(b.authenticate(pair.accessToken), 'revoked'); // …and sees the revocation at once
    await expectRefused(b.refresh(pair.refreshToken), 'revoked');
    await expectRefused(a.authenticate(pair.accessToken), 'revoked');
    await a.revoke(pair.accessToken); // idempotent
    expect(await b.authenticate(other.accessToken)).toMatchObject({ sub: 'alice' }); // another session of alice stays
    // Logging out with the refresh token ends the session too.
    await b.revoke(other.refreshToken);
    await expectRefused(a.authenticate(other.accessToken), 'revoked');
  });

  it('refresh rotates the pair: the old tokens are refused everywhere, the new ones accepted', async () => {
    const { a, b, backends, clock: c } = await twoServers();
    const first = await a.login('alice');
    c.advance(60);
    const second = await b.refresh(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshExpiresAt).toBe(T0 / 1000 + 60 + 86_400);
    await expectRefused(a.authenticate(first.accessToken), 'revoked');
    await expectRefused(b.authenticate(first.accessToken), 'revoked');
    await expectRefused(a.refresh(first.refreshToken), 'reused');
    expect(await a.authenticate(second.accessToken)).toMatchObject({ sub: 'alice' });
    const third = await a.refresh(second.refreshToken);
    expect(await b.authenticate(third.accessToken)).toMatchObject({ sub: 'alice' });
    // One session record only: the rotated ones are forgotten.
    expect(await storedKeys(backends[1], '.romidb-tokens/sessions/')).toHaveLength(1);
  });

  it('one refresh token is exchanged once, even by two processes at the same moment', async () => {
    const { a, b } = await twoServers();
    const pair = await a.login('alice');
    const results = await Promise.allSettled([a.refresh(pair.refreshToken), b.refresh(pair.refreshToken), a.refresh(pair.refreshToken), b.refresh(pair.refreshToken)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as InvalidTokenError).reason).toMatch(/^(reused|revoked)$/);
    // Within the grace period the winner's session is not touched.
    expect(await b.authenticate((won[0] as PromiseFulfilledResult<{ accessToken: string }>).value.accessToken)).toMatchObject({ sub: 'alice' });
  });

  it('a rotated refresh token used again later revokes the sessions it was exchanged for', async () => {
    const { a, b, clock: c } = await twoServers();
    const stolen = await a.login('alice');
    const thief = await a.refresh(stolen.refreshToken); // the thief exchanges it first
    const thief2 = await a.refresh(thief.refreshToken); // and again
    c.advance(31);
    await expectRefused(b.refresh(stolen.refreshToken), 'reused'); // the owner tries it
    await expectRefused(a.authenticate(thief2.accessToken), 'revoked');
    await expectRefused(a.refresh(thief2.refreshToken), 'revoked');
  });

  it('sessions per user are limited (the oldest revoked), never server-wide', async () => {
    const { a, b, clock: c } = await twoServers({ sessionsPerUser: 3 });
    const alice: string[] = [];
    for (let i = 0; i < 5; i++) {
      alice.push((await (i % 2 ? a : b).login('alice')).accessToken);
      c.advance(1);
    }
    await expectRefused(b.authenticate(alice[0]), 'revoked');
    await expectRefused(a.authenticate(alice[1]), 'revoked');
    for (const t of alice.slice(2)) expect(await b.authenticate(t)).toMatchObject({ sub: 'alice' });
    // Other users are not limited by alice's sessions, nor by their number.
    const others = await Promise.all(Array.from({ length: 12 }, (_, i) => a.login(`user${i}`)));
    for (const p of others) expect(await b.authenticate(p.accessToken)).toMatchObject({ type: 'access' });
    const bob = [await a.login('bob'), await a.login('bob'), await b.login('bob')];
    for (const p of bob) expect(await a.authenticate(p.accessToken)).toMatchObject({ sub: 'bob' });
    // Logged-out and expired sessions do not count.
    await a.revoke(alice[4]);
    const again = await b.login('alice');
    for (const t of [alice[2], alice[3], again.accessToken]) expect(await a.authenticate(t)).toMatchObject({ sub: 'alice' });
  });

  it('a restarted server (same secret, same storage) accepts live tokens and still refuses revoked ones', async () => {
    const { a, backends, clock: c } = await twoServers();
    const live = await a.login('alice');
    const gone = await a.login('alice');
    const api = await a.issueApiToken('alice', { datasets: 'real_plant*/read' });
    await a.revoke(gone.accessToken);
    const restarted = service(backends[1], { now: c.now });
    expect(await restarted.authenticate(live.accessToken)).toMatchObject({ sub: 'alice' });
    expect(await restarted.authenticate(api.token)).toMatchObject({ type: 'api' });
    await expectRefused(restarted.authenticate(gone.accessToken), 'revoked');
    expect(await restarted.refresh(live.refreshToken)).toHaveProperty('refreshToken');
    await expectRefused(service(backends[1], { now: c.now, secret: OTHER_SECRET }).authenticate(api.token), 'signature');
  });

  it('API tokens and revokeUser', async () => {
    const { a, b } = await twoServers();
    const api = await a.issueApiToken('alice', { datasets: 'scan_*/read' });
    const api2 = await a.issueApiToken('alice');
    const session = await b.login('alice');
    const bob = await b.login('bob');
    await b.revoke(api.token);
    await expectRefused(a.authenticate(api.token), 'revoked');
    expect(await a.authenticate(api2.token)).toMatchObject({ type: 'api' });
    expect(await a.revokeUser('alice')).toBe(2); // the session and the API token left
    await expectRefused(b.authenticate(api2.token), 'revoked');
    await expectRefused(b.authenticate(session.accessToken), 'revoked');
    await expectRefused(b.refresh(session.refreshToken), 'revoked');
    expect(await a.authenticate(bob.accessToken)).toMatchObject({ sub: 'bob' });
  });

  it('keeps its records under .romidb-tokens/ (internal: never listed as data) and prunes expired revocations', async () => {
    const { a, b, backends, clock: c } = await twoServers();
    const early = await a.login('alice');
    await a.revoke(early.accessToken);
    const api = await a.issueApiToken('alice', { ttl: 30 * 86_400 });
    await a.revoke(api.token);
    const keys = await storedKeys(backends[0]);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const k of keys) {
      expect(k).toMatch(/^\.romidb-tokens\/(revoked\/[0-9a-f]{32}|sessions\/[0-9a-f]{64}\/\d+-\d+-[0-9a-f]{32}|api\/[0-9a-f]{64}\/\d+-\d+-[0-9a-f]{32})$/);
      expect(isInternalKey(k)).toBe(true);
    }
    const visible: string[] = [];
    for await (const e of backends[0].list('')) visible.push(e.key);
    expect(visible.filter((k) => k.startsWith('.romidb'))).toEqual([]);

    const revoked = async (): Promise<number> => (await storedKeys(backends[1], '.romidb-tokens/revoked/')).length;
    expect(await revoked()).toBe(2);
    expect(await b.prune()).toBe(0); // nothing has expired
    c.advance(86_400 + 2 + 600 + 60); // the session's revocation is no longer needed
    const late = await a.login('alice');
    await a.revoke(late.accessToken);
    expect(await b.prune()).toBe(1);
    expect(await revoked()).toBe(2); // the API token's (30 days) and the new one remain
    await expectRefused(a.authenticate(api.token), 'revoked');
    await expectRefused(b.authenticate(late.refreshToken, ['refresh']), 'revoked');
    c.advance(30 * 86_400);
    expect(await a.prune()).toBe(2);
    expect(await revoked()).toBe(0);
  });

  it('prunes by itself, at most every pruneIntervalMs', async () => {
    const { a, backends, clock: c } = await twoServers({ pruneIntervalMs: 3_600_000 });
    await a.revoke((await a.login('alice')).accessToken);
    c.advance(2 * 86_400);
    await a.login('bob'); // starts a prune in the background
    await expect.poll(async () => (await storedKeys(backends[1], '.romidb-tokens/revoked/')).length, { timeout: 10_000 }).toBe(0);
  });
});

describe('tokens: the server never serves them', () => {
  it('/files and /scan refuse .romidb-tokens/…', async () => {
    const db = new MemDB();
    const t = service(db.backend);
    const pair = await t.login('alice');
    await t.revoke(pair.accessToken);
    const [key] = await storedKeys(db.backend, '.romidb-tokens/revoked/');
    expect(key).toBeDefined();
    const server = await serve(db);
    try {
      for (const path of [`/files/${key}`, `/files/${key!.replace(/\//g, '%2f')}`, '/scan/.romidb-tokens', '/files/.romidb-tokens/']) {
        const res = await get(`${server.url}${path}`);
        expect([400, 404], path).toContain(res.status);
      }
      expect((await get(`${server.url}/scans`)).json()).toEqual([]);
    } finally {
      await server.close();
    }
    await db.connect({ readOnly: true });
    expect((await db.check()).problems).toEqual([]);
    await db.disconnect();
  });
});
