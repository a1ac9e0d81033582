// Runs the built `romidb` binary as a user would, in a temporary HOME, with nothing inherited
// from the developer's environment but PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(ROOT, 'test-fixtures');
export const REAL_PLANT = join(FIXTURES, 'realdata/plant-3d-vision-db/real_plant');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  out: string;
  err: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
}

const temps: string[] = [];

/** A fresh temporary folder, removed after the test file. */
export async function tempDir(prefix = 'romidb-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function childEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export function spawnCli(args: string[], opts: RunOptions & { home: string }): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? opts.home, env: childEnv(opts.home, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<RunResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      resolve({ code, signal, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** A CLI bound to a temporary HOME (and working directory). */
export async function cli(env: Record<string, string> = {}) {
  const home = await tempDir('romidb-home-');
  const run = (args: string[], opts: RunOptions = {}) => collect(spawnCli(args, { home, ...opts, env: { ...env, ...opts.env } }));
  return { home, run };
}

/**
 * Every file under `dir` as relative path → SHA-256 of its bytes (folders as "dir" entries ending
 * in "/"), skipping `skip`. Digests keep deep comparisons of large trees fast.
 */
export async function tree(dir: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) {
        out.set(`${r}/`, 'dir');
        await walk(r);
      } else {
        out.set(r, createHash('sha256').update(await readFile(join(dir, r))).digest('hex'));
      }
    }
  };
  await walk('');
  return out;
}

/** `romidb <args>` (a `serve` command) started, and the URL it prints once it listens (`--json` output). */
export async function startServe(args: string[], opts: { home?: string; env?: Record<string, string> } = {}) {
  const home = opts.home ?? (await tempDir('romidb-home-'));
  const child = spawnCli(args, { home, env: opts.env });
  const done = collect(child);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (c: Buffer) => {
      seen += c.toString('utf8');
      const m = seen.match(/"url":\s*"([^"]+)"/);
      if (m) resolve(m[1]!);
    });
    void done.then((r) => reject(new Error(`serve exited ${r.code}: ${r.err}`)));
  });
  return { child, done, url };
}
