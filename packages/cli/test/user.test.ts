// `romidb user …` and `romidb group …` as a user runs them: the built binary, the password on
// stdin (or typed twice on a terminal: a pseudo-terminal driven by Python's pty module), the
// accounts checked through @romi/server's store; several processes adding users at once, and
// beside a process holding the database's writer lock.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FSDB } from '@romi/fsdb';
import { AccountStore } from '@romi/server';
import { collect, tempDir, type RunResult } from './helpers.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** The built CLI with `input` on its stdin (the other helpers give it none). */
async function romidb(home: string, args: string[], input = ''): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = collect(child);
  child.stdin!.end(input);
  return done;
}

async function database(): Promise<{ home: string; dir: string; run: (args: string[], input?: string) => Promise<RunResult> }> {
  const home = await tempDir('romidb-home-');
  const dir = join(home, 'db');
  expect((await romidb(home, ['--db', dir, 'init'])).code).toBe(0);
  return { home, dir, run: (args, input) => romidb(home, ['--db', dir, ...args], input) };
}

const errorOf = (err: string) => (JSON.parse(err) as { error: { code: string; message: string } }).error;

// Each command is a process (≈ 1 s on a busy machine): more time than the default 30 s.
describe('romidb user', { timeout: 120_000 }, () => {
  it('adds an account from one line of stdin; it logs in; list shows no hash; passwd, lock, unlock', async () => {
    const { dir, run } = await database();
    const add = await run(['user', 'add', 'Alice', '--fullname', 'Alice Smith', '--role', 'contributor'], 'first-password\nignored second line\n');
    expect(add.code, add.err).toBe(0);
    expect(add.out).toBe('added user alice (contributor)\n');
    const store = new AccountStore(new FSDB(dir).backend);
    expect((await store.verifyLogin('alice', 'first-password')).fullname).toBe('Alice Smith');
    expect(JSON.parse(await readFile(join(dir, 'users.json'), 'utf8'))[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);

    const list = await run(['user', 'list']);
    expect(list.out).toBe('alice\tcontributor\tactive\tAlice Smith\n');
    const json = await run(['--json', 'user', 'list']);
    expect(JSON.parse(json.out)).toMatchObject([{ username: 'alice', fullname: 'Alice Smith', roles: ['contributor'], isActive: true, state: 'active' }]);
    expect(json.out + list.out).not.toMatch(/argon2|password_hash|first-password/);

    expect((await run(['user', 'passwd', 'alice', '--password-stdin'], 'second-password\r\n')).code).toBe(0);
    expect((await store.verifyLogin('alice', 'second-password')).username).toBe('alice');

    const lock = await run(['--json', 'user', 'lock', 'alice', '--minutes', '10']);
    const until = new Date(JSON.parse(lock.out).lockedUntil as string).getTime();
    expect(Math.abs(until - (Date.now() + 600_000))).toBeLessThan(30_000);
    expect(await store.verifyLogin('alice', 'second-password').catch((e: { code: string }) => e.code)).toBe('ROMI_ACCOUNT_LOCKED');
    expect((await run(['user', 'lock', 'alice'])).out).toBe('alice: locked (until unlocked)\n');
    expect((await run(['user', 'unlock', 'alice'])).out).toBe('alice: active\n');
    expect((await store.verifyLogin('alice', 'second-password')).failedAttempts).toBe(0);
  });

  it('never takes a password from argv; refuses bad input with its exit code and writes nothing', async () => {
    const { dir, home, run } = await database();
    expect((await run(['user', 'add', 'bob', '--password', 'on-the-command-line'])).code).toBe(2);
    expect((await run(['user', 'add', 'bob', '--role', 'root'], 'long-enough\n')).code).toBe(2);
    const short = await run(['--json', 'user', 'add', 'bob'], 'short\n');
    expect([short.code, errorOf(short.err).code]).toEqual([1, 'ROMI_INVALID_ARGUMENT']);
    const badName = await run(['--json', 'user', 'add', '../bob'], 'long-enough\n');
    expect([badName.code, errorOf(badName.err).code]).toEqual([1, 'ROMI_INVALID_ARGUMENT']);
    const huge = await run(['--json', 'user', 'add', 'bob'], `${'x'.repeat(2000)}\n`);
    expect([huge.code, errorOf(huge.err).code]).toEqual([1, 'ROMI_INVALID_ARGUMENT']);
    expect(existsSync(join(dir, 'users.json'))).toBe(false);
    const unknown = await run(['--json', 'user', 'passwd', 'nobody'], 'long-enough\n');
    expect([unknown.code, errorOf(unknown.err).code]).toEqual([1, 'ROMI_NOT_FOUND']);
    expect((await run(['user', 'add', 'bob'], 'long-enough\n')).code).toBe(0);
    const twice = await run(['--json', 'user', 'add', 'BOB'], 'long-enough\n');
    expect([twice.code, errorOf(twice.err).code]).toEqual([1, 'ROMI_ALREADY_EXISTS']);
    expect((await run(['user', 'lock', 'bob', '--minutes', 'soon'])).code).toBe(2);
    // Not a database: refused, nothing written there.
    const notDb = await romidb(home, ['--json', '--db', home, 'user', 'add', 'carol'], 'long-enough\n');
    expect([notDb.code, errorOf(notDb.err).code]).toEqual([1, 'ROMI_NOT_A_DATABASE']);
    expect(existsSync(join(home, 'users.json'))).toBe(false);
    // A corrupt users.json is reported, and left as it is.
    await writeFile(join(dir, 'users.json'), '[{"username": ');
    const corrupt = await run(['--json', 'user', 'add', 'dave'], 'long-enough\n');
    expect([corrupt.code, errorOf(corrupt.err).code]).toEqual([1, 'ROMI_CORRUPT']);
    expect(await readFile(join(dir, 'users.json'), 'utf8')).toBe('[{"username": ');
  });

  it('several processes adding users at once, beside a writer holding the database lock, lose none', async () => {
    const { dir, run } = await database();
    const writer = new FSDB(dir);
    await writer.connect();
    try {
      const names = Array.from({ length: 6 }, (_, i) => `user${i}`);
      const results = await Promise.all(names.map((n) => run(['user', 'add', n], `password-of-${n}\n`)));
      for (const r of results) expect(r.code, r.err).toBe(0);
      const list = JSON.parse((await run(['--json', 'user', 'list'])).out) as Array<{ username: string }>;
      expect(list.map((u) => u.username).sort()).toEqual(names);
    } finally {
      await writer.disconnect();
    }
  });

  it.skipIf(!existsSync(PYTHON))(`asks twice on a terminal without echo; two different passwords change nothing${existsSync(PYTHON) ? '' : ' [skipped: no /usr/bin/python3 for a pseudo-terminal]'}`, async () => {
    const { dir, home } = await database();
    // Python's pty: the CLI runs on a pseudo-terminal; its answers are typed after each prompt.
    const drive = `
import json, os, pty, select, sys, time
answers = sys.argv[1].split("|")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b""
def more(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    out += data
    return bool(data)
for answer, prompt in zip(answers, [b"New password: ", b"Again: "]):
    deadline = time.time() + 30
    while prompt not in out:
        if not more(deadline):
            sys.exit("no prompt %r in %r" % (prompt, out))
    out = out.replace(prompt, b"<" + prompt.strip() + b">", 1)
    os.write(fd, answer.encode() + b"\\r")
while more(time.time() + 30):
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "out": out.decode("utf8", "replace")}))
`;
    const tty = async (answers: string, name: string) => {
      const child = spawn(PYTHON, ['-c', drive, answers, process.execPath, BIN, '--db', dir, 'user', 'add', name], { cwd: home, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      const r = await collect(child);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as { code: number; out: string };
    };
    const ok = await tty('typed-secret|typed-secret', 'erin');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('<New password:>');
    expect(ok.out).toContain('added user erin (reader)');
    expect(ok.out).not.toContain('typed-secret');
    expect((await new AccountStore(new FSDB(dir).backend).verifyLogin('erin', 'typed-secret')).username).toBe('erin');
    const differ = await tty('one-password|another-one', 'frank');
    expect(differ.code).toBe(2);
    expect(differ.out).toContain('the two passwords differ');
    expect((await new AccountStore(new FSDB(dir).backend).getUser('frank'))).toBeUndefined();
  });
});

describe('romidb group', { timeout: 120_000 }, () => {
  it('adds a group (its creator a member), lists it, adds members; unknown users and groups are refused', async () => {
    const { run } = await database();
    for (const n of ['alice', 'bob']) expect((await run(['user', 'add', n], 'long-enough\n')).code).toBe(0);
    expect((await run(['group', 'add', 'lab', '--creator', 'alice', '--description', 'The lab'])).out).toBe('added group lab (alice)\n');
    expect((await run(['group', 'add-member', 'lab', 'BOB'])).out).toBe('added bob to lab\n');
    expect((await run(['group', 'add-member', 'lab', 'bob'])).out).toBe('bob already is in lab\n');
    expect((await run(['group', 'list'])).out).toBe('lab\talice,bob\tThe lab\n');
    expect(JSON.parse((await run(['--json', 'group', 'list'])).out)).toMatchObject([{ name: 'lab', users: ['alice', 'bob'], description: 'The lab', createdBy: 'alice' }]);
    const nobody = await run(['--json', 'group', 'add-member', 'lab', 'nobody']);
    expect([nobody.code, errorOf(nobody.err).code]).toEqual([1, 'ROMI_NOT_FOUND']);
    const noGroup = await run(['--json', 'group', 'add-member', 'nogroup', 'bob']);
    expect([noGroup.code, errorOf(noGroup.err).code]).toEqual([1, 'ROMI_NOT_FOUND']);
    expect((await run(['group', 'add', 'other'])).code).toBe(2);
  });
});
