// main() in-process: the same program with captured streams (memory: databases live in this process).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { REAL_PLANT, tempDir } from './helpers.js';

async function run(args: string[], env: Record<string, string> = {}, tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(['node', 'romidb', ...args], { stdout, stderr, env });
  return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

describe('main()', () => {
  it('runs commands against a memory: database shared by name within the process', async () => {
    const env = { ROMIDB: 'memory://main-test' };
    expect(await run(['ls'], env)).toEqual({ code: 0, out: '', err: '' });
    expect((await run(['init', '--json'], env)).out).toBe('{\n  "url": "memory://main-test",\n  "created": false\n}\n');
    expect((await run(['info', 'x'], env)).err).toBe('romidb: Unknown scan "x"\n');
    expect((await run(['check'], env)).out).toBe('ok\n');
  });

  it('draws progress bars only when stderr is a terminal', async () => {
    const env = { ROMIDB: 'memory://progress' };
    const images = join(REAL_PLANT, 'images');
    const quiet = await run(['import', 'images', images, '--scan', 'a'], env);
    expect(quiet).toEqual({ code: 0, out: 'a/images: 4 images, 272 KiB\n', err: '' });
    const tty = await run(['import', 'images', images, '--scan', 'b'], env, true);
    expect(tty.code).toBe(0);
    expect(tty.err).toContain('import b [');
    expect(tty.err).toContain('4/4');
    const out = join(await tempDir(), 'a.tar.gz');
    expect((await run(['export', 'a', out], env, true)).err).toMatch(/export \[.*100%/);
    expect((await run(['mirror', 'memory://progress', 'memory://progress-copy'], {}, true)).err).toContain('mirror [');
  });

  it('returns 2 for usage errors and prints one line', async () => {
    const r = await run(['ls', '--bogus'], { ROMIDB: 'memory://x' });
    expect(r.code).toBe(2);
    expect(r.err).toBe("romidb: unknown option '--bogus'\n");
    expect((await run(['mirror', 'memory://a'])).code).toBe(2);
  });

  it('mirror between two memory databases refuses the same database', async () => {
    const r = await run(['mirror', 'memory://same', 'memory://same']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: mirror() source and destination are the same database (memory://same)\n');
  });
});
