// The account store (src/auth/): users.json and groups.json in plantdb 0.15's format through the
// Backend, on fsdb, memdb and s3db: create, log in, lock-out and unlock, unknown fields kept,
// concurrent stores losing nothing, corrupt files never written over, hostile inputs refused with
// storage unchanged. Then plantdb's own files (test-fixtures/server-auth) and, with Debian's
// python3-argon2, hashes verified both ways between argon2-cffi and romidb.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isRomiError, MapBackend, toKey, type Backend, type Key, type PutOptions } from '@romi/db-core';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';
import { formatPlantdbJson, formatPythonDate, parsePythonDate } from '../src/auth/json-file.js';
import { targets } from './harness.js';

/** Cheap argon2 for the tests that are not about the hash itself. */
const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
const USERS = toKey('users.json');
const GROUPS = toKey('groups.json');
const AUTH_FIXTURES = fileURLToPath(new URL('../../../test-fixtures/server-auth/', import.meta.url));
const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isRomiError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a RomiError, got success');
}

async function stored(backend: Backend, key = USERS): Promise<string | undefined> {
  return (await backend.head(key)) ? utf8((await backend.get(key)).bytes) : undefined;
}

/** Every key and its bytes: what "storage unchanged" compares. */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.list('')) if (e.kind === 'object') out.set(e.key, e.etag);
  return out;
}

const PLANTDB_KEYS = ['username', 'fullname', 'password_hash', 'roles', 'created_at', '_extra_permissions', 'last_login', 'is_active', 'failed_attempts', 'last_failed_attempt', 'locked_until', 'password_last_change'];

for (const target of targets()) {
  describe(`accounts on ${target.name}`, () => {
    afterAll(() => target.close());

    /** A test on a fresh copy of the fixture database. */
    const onFresh = (test: (backend: Backend) => Promise<void>) => async () => {
      const { backend, dispose } = await target.make();
      try {
        await test(backend);
      } finally {
        await dispose();
      }
    };

    it("creates an account in plantdb's format (argon2-cffi's parameters), logs in, lists without hashes", onFresh(async (backend) => {
      const store = new AccountStore(backend);
      const made = await store.addUser({ username: 'Alice', fullname: 'Alice Smith', password: 'correct horse', roles: ['contributor'] });
      expect(made).toMatchObject({ username: 'alice', fullname: 'Alice Smith', roles: ['contributor'], isActive: true, failedAttempts: 0 });
      const text = (await stored(backend))!;
      const records = JSON.parse(text) as Array<Record<string, unknown>>;
      expect(records).toHaveLength(1);
      expect(Object.keys(records[0]!)).toEqual(PLANTDB_KEYS);
      expect(records[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      expect(records[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
      expect(text).toBe(formatPlantdbJson(records));
      expect(text.startsWith('[\n  {\n    "username": "alice",')).toBe(true);

      const user = await store.verifyLogin('ALICE', 'correct horse');
      expect(user.username).toBe('alice');
      expect(user.lastLogin).toBeInstanceOf(Date);
      expect(await codeOf(store.addUser({ username: 'alice', password: 'another one' }))).toBe('ROMI_ALREADY_EXISTS');
      const listed = await store.listUsers();
      expect(listed.map((u) => u.username)).toEqual(['alice']);
      expect(JSON.stringify(listed)).not.toContain('argon2');
      expect(await store.getUser('nobody')).toBeUndefined();
    }));

    it('locks one account after 3 failures for 15 s, then 30 s…, never the others; a success or unlock resets', onFresh(async (backend) => {
      const store = new AccountStore(backend, FAST);
      await store.addUser({ username: 'bob', password: 'bobs-password' });
      await store.addUser({ username: 'eve', password: 'eves-password' });
      const t0 = new Date('2026-05-01T12:00:00Z');
      const at = (s: number) => new Date(t0.getTime() + s * 1000);
      for (let i = 0; i < 3; i++) expect(await codeOf(store.verifyLogin('bob', 'wrong password', at(i)))).toBe('ROMI_INVALID_CREDENTIALS');
      let bob = (await store.getUser('bob'))!;
      expect(bob.failedAttempts).toBe(3);
      expect(bob.lockedUntil?.getTime()).toBe(at(2 + 15).getTime());
      // Locked: even the right password is refused, and the refusal is not counted.
      const locked = await store.verifyLogin('bob', 'bobs-password', at(10)).catch((e: unknown) => e);
      expect(isRomiError(locked, 'ROMI_ACCOUNT_LOCKED')).toBe(true);
      expect((locked as { until?: Date }).until?.getTime()).toBe(at(17).getTime());
      expect((await store.getUser('bob'))!.failedAttempts).toBe(3);
      // Another account is not affected.
      expect((await store.verifyLogin('eve', 'eves-password', at(10))).username).toBe('eve');
      // After the lock, one more failure locks again for twice as long.
      expect(await codeOf(store.verifyLogin('bob', 'wrong again', at(18)))).toBe('ROMI_INVALID_CREDENTIALS');
      bob = (await store.getUser('bob'))!;
      expect(bob.failedAttempts).toBe(4);
      expect(bob.lockedUntil?.getTime()).toBe(at(18 + 30).getTime());
      // Doubling stops at 15 minutes.
      await store.unlock('bob');
      for (let i = 0; i < 12; i++) await store.verifyLogin('bob', 'wrong', at(100_000 * (i + 1))).catch(() => {});
      bob = (await store.getUser('bob'))!;
      expect(bob.lockedUntil!.getTime() - at(1_200_000).getTime()).toBe(15 * 60_000);
      // An administrator unlocks; the right password works at once.
      await store.unlock('bob');
      const back = await store.verifyLogin('bob', 'bobs-password', at(1_200_001));
      expect(back).toMatchObject({ failedAttempts: 0, isActive: true });
      expect(back.lockedUntil).toBeUndefined();
      // A success resets the count.
      await store.verifyLogin('bob', 'wrong', at(1_200_002)).catch(() => {});
      expect((await store.verifyLogin('bob', 'bobs-password', at(1_200_003))).failedAttempts).toBe(0);
    }));

    it('lock with an end, lock until unlocked (is_active false), unlock; unknown users', onFresh(async (backend) => {
      const store = new AccountStore(backend, FAST);
      await store.addUser({ username: 'carol', password: 'carols-password' });
      const until = new Date(Date.now() + 60_000);
      expect((await store.lock('carol', until)).lockedUntil?.getTime()).toBe(until.getTime());
      expect(await codeOf(store.verifyLogin('carol', 'carols-password'))).toBe('ROMI_ACCOUNT_LOCKED');
      await store.unlock('carol');
      expect((await store.lock('carol')).isActive).toBe(false);
      expect(JSON.parse((await stored(backend))!)[0].is_active).toBe(false);
      expect(await codeOf(store.verifyLogin('carol', 'carols-password'))).toBe('ROMI_ACCOUNT_LOCKED');
      await store.unlock('carol');
      expect((await store.verifyLogin('carol', 'carols-password')).username).toBe('carol');
      expect(await codeOf(store.verifyLogin('nobody', 'whatever1'))).toBe('ROMI_INVALID_CREDENTIALS');
      expect(await codeOf(store.lock('nobody'))).toBe('ROMI_NOT_FOUND');
      expect(await codeOf(store.setPassword('nobody', 'long enough'))).toBe('ROMI_NOT_FOUND');
      await store.setPassword('carol', 'a new password');
      expect(await codeOf(store.verifyLogin('carol', 'carols-password'))).toBe('ROMI_INVALID_CREDENTIALS');
      expect((await store.verifyLogin('carol', 'a new password')).failedAttempts).toBe(0);
    }));

    it('keeps unknown fields, their order and number texts, and the other records byte for byte', onFresh(async (backend) => {
      const seed = new AccountStore(backend, FAST);
      await seed.addUser({ username: 'dave', password: 'daves-password' });
      await seed.addUser({ username: 'erin', password: 'erins-password' });
      const records = JSON.parse((await stored(backend))!) as Array<Record<string, unknown>>;
      // A later plantdb (or a hand edit) adds fields romidb does not know.
      const text = formatPlantdbJson(records)
        .replace('"username": "dave",', '"mfa": {"kind": "totp", "weight": 1.0, "codes": []},\n    "username": "dave",')
        .replace('"roles": [\n      "reader"\n    ],\n    "created_at"', '"roles": [\n      "reader",\n      "curator"\n    ],\n    "created_at"');
      await backend.put(USERS, new TextEncoder().encode(text));
      const store = new AccountStore(backend, FAST);
      expect((await store.getUser('dave'))!.roles).toEqual(['reader']);
      await store.setPassword('dave', 'daves-new-password');
      await store.addUser({ username: 'frank', password: 'franks-password' });
      const after = (await stored(backend))!;
      const dave = JSON.parse(after)[0] as Record<string, unknown>;
      expect(Object.keys(dave)[0]).toBe('mfa');
      expect(dave.roles).toEqual(['reader', 'curator']);
      expect(after).toContain('"mfa": {\n      "kind": "totp",\n      "weight": 1.0,\n      "codes": []\n    },');
      // erin's record is unchanged, byte for byte.
      const erin = (s: string) => s.slice(s.indexOf('"username": "erin"'), s.indexOf('}', s.indexOf('"username": "erin"')));
      expect(erin(after)).toBe(erin(text));
      expect(JSON.parse(after).map((u: { username: string }) => u.username)).toEqual(['dave', 'erin', 'frank']);
    }));

    it('two stores (two servers) adding 20 users and 10 members at once lose none', onFresh(async (backend) => {
      const stores = [new AccountStore(backend, FAST), new AccountStore(backend, FAST)];
      const names = Array.from({ length: 20 }, (_, i) => `user_${String(i).padStart(2, '0')}`);
      await Promise.all(names.map((username, i) => stores[i % 2]!.addUser({ username, password: `password-${i}` })));
      expect((await stores[0]!.listUsers()).map((u) => u.username).sort()).toEqual(names);
      await stores[1]!.addGroup({ name: 'team', createdBy: 'user_00', description: 'All of them' });
      const added = await Promise.all(names.slice(1, 11).map((n, i) => stores[i % 2]!.addMember('team', n)));
      expect(added.every(Boolean)).toBe(true);
      expect((await stores[0]!.getGroup('team'))!.users.sort()).toEqual(names.slice(0, 11));
      // Failed logins of one account from both stores are all counted.
      await Promise.all([0, 1, 0, 1].map((s) => stores[s]!.verifyLogin('user_05', 'wrong').catch(() => {})));
      expect((await stores[0]!.getUser('user_05'))!.failedAttempts).toBeGreaterThanOrEqual(3);
    }));

    it('a corrupt users.json or groups.json is ROMI_CORRUPT for every call and is never written over', onFresh(async (backend) => {
      const store = new AccountStore(backend, FAST);
      const corrupt = [
        '[{"username": "x", ',
        '{"username": "x"}',
        '[{"username": "x", "fullname": "X", "password_hash": "h", "roles": "reader", "created_at": "2026-01-01T00:00:00"}]',
        '[{"username": "x", "fullname": "X", "password_hash": "h", "roles": [], "created_at": "yesterday"}]',
        '[{"username": "x", "fullname": "X", "password_hash": "h", "roles": [], "created_at": "2026-01-01"}, {"username": "X", "fullname": "X", "password_hash": "h", "roles": [], "created_at": "2026-01-01"}]',
        '\u00ff\u00fe',
      ];
      for (const text of corrupt) {
        const bytes = text === '\u00ff\u00fe' ? new Uint8Array([0xff, 0xfe, 0x5b]) : new TextEncoder().encode(text);
        await backend.put(USERS, bytes);
        const before = await snapshot(backend);
        for (const call of [
          () => store.listUsers(),
          () => store.addUser({ username: 'newuser', password: 'new-password' }),
          () => store.verifyLogin('x', 'whatever1'),
          () => store.unlock('x'),
          () => store.setPassword('x', 'whatever12'),
        ]) {
          expect(await codeOf(call()), text).toBe('ROMI_CORRUPT');
        }
        expect(await snapshot(backend)).toEqual(before);
        expect((await backend.get(USERS)).bytes).toEqual(bytes);
      }
      await backend.delete(USERS);
      await store.addUser({ username: 'gina', password: 'ginas-password' });
      await backend.put(GROUPS, new TextEncoder().encode('{"g": {"users": "gina"}}'));
      expect(await codeOf(store.addGroup({ name: 'h', createdBy: 'gina' }))).toBe('ROMI_CORRUPT');
      expect(await codeOf(store.addMember('g', 'gina'))).toBe('ROMI_CORRUPT');
      expect(await stored(backend, GROUPS)).toBe('{"g": {"users": "gina"}}');
      // An empty file is "no users", as plantdb reads it, and is then written over.
      await backend.put(USERS, new Uint8Array());
      expect(await store.listUsers()).toEqual([]);
      await store.addUser({ username: 'gina', password: 'ginas-password' });
      expect((await store.listUsers()).length).toBe(1);
    }));

    it('hostile inputs are typed errors and leave storage unchanged', onFresh(async (backend) => {
      const store = new AccountStore(backend, FAST);
      await store.addUser({ username: 'henry', password: 'henrys-password' });
      const before = await snapshot(backend);
      const huge = 'x'.repeat(1025);
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['huge password', () => store.addUser({ username: 'ivan', password: huge })],
        ['huge multibyte password', () => store.addUser({ username: 'ivan', password: 'é'.repeat(513) })],
        ['short password', () => store.addUser({ username: 'ivan', password: 'short' })],
        ['empty password', () => store.addUser({ username: 'ivan', password: '' })],
        ['password not a string', () => store.addUser({ username: 'ivan', password: 12345678 as unknown as string })],
        ['unknown role', () => store.addUser({ username: 'ivan', password: 'long enough', roles: ['root' as 'admin'] })],
        ['no role', () => store.addUser({ username: 'ivan', password: 'long enough', roles: [] })],
        ['fullname with a newline', () => store.addUser({ username: 'ivan', fullname: 'a\nb', password: 'long enough' })],
        ['huge fullname', () => store.addUser({ username: 'ivan', fullname: 'a'.repeat(257), password: 'long enough' })],
        ['new password too long', () => store.setPassword('henry', huge)],
        ['lock end not a date', () => store.lock('henry', new Date(NaN))],
        ['bad group name', () => store.addGroup({ name: '../g', createdBy: 'henry' })],
        ['unknown group member', () => store.addGroup({ name: 'g', createdBy: 'henry', users: ['nobody'] })],
        ['unknown group', () => store.addMember('nogroup', 'henry')],
      ];
      for (const name of ['', '../x', 'a/b', 'a b', '.hidden', '-rf', 'x'.repeat(65), 'élodie', 'a\u0000b', '__proto__ ', 'users.json\n']) {
        refused.push([`username ${JSON.stringify(name)}`, () => store.addUser({ username: name, password: 'long enough' })]);
      }
      refused.push(['username not a string', () => store.addUser({ username: { toString: () => 'x' } as unknown as string, password: 'long enough' })]);
      for (const [what, call] of refused) {
        const code = await codeOf(call());
        expect(['ROMI_INVALID_ARGUMENT', 'ROMI_NOT_FOUND'], what).toContain(code);
      }
      expect(await snapshot(backend)).toEqual(before);
      // A huge password at login is a failed login, refused without hashing it.
      const started = Date.now();
      expect(await codeOf(store.verifyLogin('henry', 'y'.repeat(1 << 20)))).toBe('ROMI_INVALID_CREDENTIALS');
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await store.getUser('henry'))!.failedAttempts).toBe(1);
      expect(await codeOf(store.verifyLogin('h'.repeat(100_000), 'whatever1'))).toBe('ROMI_INVALID_CREDENTIALS');
    }));
  });
}

describe('the store, in memory', () => {
  it('retries a write that another writer beat, on a fresh read', async () => {
    const map = new MapBackend();
    let refused = 0;
    // Every third conditional write finds that someone else wrote first.
    const racing = new Proxy(map, {
      get(target, name) {
        if (name === 'put') {
          return async (key: Key, body: Uint8Array, opts: PutOptions = {}) => {
            if ((opts.ifMatch || opts.ifNoneMatch) && ++refused % 3 === 1) {
              const current = await target.head(key);
              await target.put(key, current ? (await target.get(key)).bytes : new TextEncoder().encode('[]'));
            }
            return target.put(key, body, opts);
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const store = new AccountStore(racing, FAST);
    await Promise.all(['a1', 'b2', 'c3', 'd4'].map((username) => store.addUser({ username, password: `${username}-password` })));
    expect((await store.listUsers()).map((u) => u.username).sort()).toEqual(['a1', 'b2', 'c3', 'd4']);
    expect(refused).toBeGreaterThan(4);
  });

  it('ensureGuest makes plantdb guest/guest account once (the one short password)', async () => {
    const store = new AccountStore(new MapBackend(), FAST);
    expect(await store.ensureGuest()).toBe(true);
    expect(await store.ensureGuest()).toBe(false);
    expect(await store.verifyLogin('guest', 'guest')).toMatchObject({ username: 'guest', roles: ['reader'], fullname: 'PlantDB Guest' });
  });

  it("writes Python's datetime.isoformat() and reads what fromisoformat reads", () => {
    const d = new Date(2026, 2, 23, 10, 5, 12, 500);
    expect(formatPythonDate(d)).toBe('2026-03-23T10:05:12.500000');
    expect(formatPythonDate(new Date(2026, 0, 2, 3, 4, 5, 0))).toBe('2026-01-02T03:04:05');
    expect(parsePythonDate('2026-03-23T10:05:12.500000')?.getTime()).toBe(d.getTime());
    expect(parsePythonDate('2026-03-23T10:05:12.123456+02:00')?.toISOString()).toBe('2026-03-23T08:05:12.123Z');
    expect(parsePythonDate('2026-03-23 10:05:12Z')?.toISOString()).toBe('2026-03-23T10:05:12.000Z');
    expect(parsePythonDate('2026-03-23')?.getTime()).toBe(new Date(2026, 2, 23).getTime());
    for (const bad of ['2026-02-30T00:00:00', '2026-13-01', 'yesterday', '2026-03-23T25:00:00', '']) expect(parsePythonDate(bad), bad).toBeUndefined();
  });
});

describe("plantdb's own users.json (test-fixtures/server-auth)", () => {
  async function fixtureBackend(): Promise<Backend> {
    const backend = new MapBackend();
    for (const name of ['users.json', 'groups.json']) await backend.put(toKey(name), await readFile(`${AUTH_FIXTURES}${name}`));
    return backend;
  }

  it('logs in with the hashes argon2-cffi made (other parameters), honours its lock and is_active fields', async () => {
    const store = new AccountStore(await fixtureBackend(), FAST);
    expect((await store.listUsers()).map((u) => u.username)).toEqual(['guest', 'admin', 'alice', 'bob', 'carol']);
    expect(await store.verifyLogin('alice', 'Alfred123!')).toMatchObject({ username: 'alice', fullname: 'Alice Smith', roles: ['contributor'] });
    expect(await store.verifyLogin('guest', 'guest')).toMatchObject({ roles: ['reader'] });
    // bob's lock (March 2026) is over; his 3 failures are reset by a success.
    const bob = await store.verifyLogin('bob', 'bobs-password');
    expect(bob).toMatchObject({ fullname: 'Bob \u00c9tienne', failedAttempts: 0, extraPermissions: ['write'] });
    expect(await codeOf(store.verifyLogin('carol', 'carols-password'))).toBe('ROMI_ACCOUNT_LOCKED');
    expect(await codeOf(store.verifyLogin('alice', 'alfred123!'))).toBe('ROMI_INVALID_CREDENTIALS');
    expect((await store.listGroups()).map((g) => [g.name, g.users, g.description])).toEqual([
      ['lab', ['alice', 'bob'], 'The lab'],
      ['empty', ['admin'], null],
    ]);
  });

  it('rewrites it with only the changed fields changed (non-ASCII escaped as Python does)', async () => {
    const backend = await fixtureBackend();
    const original = utf8((await backend.get(USERS)).bytes);
    const store = new AccountStore(backend, FAST);
    await store.unlock('carol');
    const after = utf8((await backend.get(USERS)).bytes);
    expect(after).toBe(original.replace('"is_active": false', '"is_active": true'));
    expect(after).toContain('"fullname": "Bob \\u00c9tienne"');
    await store.addMember('empty', 'alice');
    expect(utf8((await backend.get(GROUPS)).bytes)).toBe(
      utf8(await readFile(`${AUTH_FIXTURES}groups.json`)).replace('"users": [\n      "admin"\n    ]', '"users": [\n      "admin",\n      "alice"\n    ]'),
    );
  });
});

// Debian's python3 with argon2-cffi (`.ci/run` installs python3-argon2); skipped, saying so, without it.
const PYTHON = '/usr/bin/python3';
const HAS_ARGON2 = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import argon2'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const NO_ARGON2 = HAS_ARGON2 ? '' : " [skipped: Debian's python3-argon2 is not installed]";
const python = (script: string, input: string): string => execFileSync(PYTHON, ['-c', script], { input, encoding: 'utf8' });

describe.skipIf(!HAS_ARGON2)(`argon2-cffi and romidb verify each other's hashes${NO_ARGON2}`, () => {
  it("a users.json written by romidb is read as plantdb reads it, and its hashes verify with PasswordHasher().verify", async () => {
    const backend = new MapBackend();
    const store = new AccountStore(backend);
    await store.addUser({ username: 'ana', fullname: 'Ana Lúcia', password: 'pässwörd-ünïcode', roles: ['admin'] });
    await store.addUser({ username: 'ben', password: 'bens-password' });
    await store.lock('ben', new Date(Date.now() + 3_600_000));
    const text = utf8((await backend.get(USERS)).bytes);
    const out = python(
      [
        'import sys, json, datetime, argon2',
        'text = sys.stdin.read()',
        'users = json.loads(text)',
        'assert json.dumps(users, indent=2) == text, "not json.dump(indent=2) byte for byte"',
        'ph = argon2.PasswordHasher()',
        'ph.verify(users[0]["password_hash"], "pässwörd-ünïcode")',
        'ph.verify(users[1]["password_hash"], "bens-password")',
        'try:\n    ph.verify(users[1]["password_hash"], "wrong")\n    sys.exit("a wrong password verified")\nexcept argon2.exceptions.VerifyMismatchError:\n    pass',
        // What plantdb's User.from_dict and _is_locked_out do with the dates (naive, local).
        'for u in users:\n    for f in ("created_at", "last_login", "last_failed_attempt", "locked_until", "password_last_change"):\n        if u[f] is not None: datetime.datetime.fromisoformat(u[f])',
        'assert datetime.datetime.now() < datetime.datetime.fromisoformat(users[1]["locked_until"])',
        'print(users[0]["password_hash"].split("$")[3], users[0]["fullname"])',
      ].join('\n'),
      text,
    );
    expect(out.trim()).toBe('m=65536,t=3,p=4 Ana Lúcia');
  });

  it("a hash made by argon2-cffi's PasswordHasher() logs in through the store", async () => {
    const hashes = JSON.parse(python('import argon2, json, sys\nph = argon2.PasswordHasher()\nprint(json.dumps([ph.hash(p) for p in sys.stdin.read().split("\\n")]))', 'pässwörd-ünïcode\nplain-password')) as string[];
    const backend = new MapBackend();
    const store = new AccountStore(backend, FAST);
    await store.addUser({ username: 'ana', password: 'placeholder-1' });
    await store.addUser({ username: 'ben', password: 'placeholder-2' });
    const records = JSON.parse(utf8((await backend.get(USERS)).bytes)) as Array<Record<string, unknown>>;
    records[0]!.password_hash = hashes[0];
    records[1]!.password_hash = hashes[1];
    await backend.put(USERS, new TextEncoder().encode(formatPlantdbJson(records)));
    expect((await store.verifyLogin('ana', 'pässwörd-ünïcode')).username).toBe('ana');
    expect((await store.verifyLogin('ben', 'plain-password')).username).toBe('ben');
    expect(await codeOf(store.verifyLogin('ben', 'placeholder-2'))).toBe('ROMI_INVALID_CREDENTIALS');
  });
});
