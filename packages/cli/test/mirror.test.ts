// mirror fsdb → s3db (patched s3rver) → fsdb: the copy is byte-identical to the source.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { S3Backend } from '@romi/s3db';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type S3TestServer } from '@romi/test-utils';
import { cli, REAL_PLANT, tempDir, tree } from './helpers.js';

let server: S3TestServer;
let run: Awaited<ReturnType<typeof cli>>['run'];
let s3: string;

/** What mirror must reproduce: everything but the writer lock and romidb's own bookkeeping. */
const ours = (rel: string) => rel === 'lock' || rel.startsWith('.romidb-');

beforeAll(async () => {
  server = await startS3rver();
  const bucket = await server.bucket();
  s3 = `s3://${bucket}/lab/db?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
  ({ run } = await cli({ AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey }));
});

afterAll(async () => {
  await server?.close();
});

describe('mirror through s3', () => {
  // Six CLI processes over S3: on a loaded 2-core machine this passes the default 60 s.
  it('fsdb → s3db → fsdb is byte-identical, and incremental', { timeout: 240_000 }, async () => {
    const dir = await tempDir();
    const source = join(dir, 'source');
    await run(['--db', source, 'init']);
    expect((await run(['--db', source, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'real_plant'])).code).toBe(0);
    await run(['--db', source, 'meta', 'set', 'real_plant', 'object', '{"species": "Arabidopsis thaliana", "age": 276.0}']);
    await run(['--db', source, 'meta', 'set', 'real_plant/images/00000_rgb', 'pose', '[76.6, 343.6, 80, 276.0, 0]']);
    const notes = join(dir, 'notes');
    await mkdir(notes);
    await writeFile(join(notes, 'readme.txt'), 'été\n');
    await writeFile(join(notes, 'empty.bin'), '');
    expect((await run(['--db', source, 'import', 'folder', notes, '--scan', 'other'])).code).toBe(0);

    const init = await run(['--db', s3, 'init']);
    expect(init.code, init.err).toBe(0);
    const up = await run(['--json', 'mirror', source, s3]);
    expect(up.code, up.err).toBe(0);
    expect(JSON.parse(up.out)).toMatchObject({ skipped: 0, deleted: 0 });
    expect((await run(['--db', s3, 'ls'])).out).toBe('other\nreal_plant\n');
    expect((await run(['--db', s3, 'check'])).out).toBe('ok\n');
    const cat = await run(['--db', s3, 'cat', 'real_plant/images/00003_rgb']);
    expect(cat.stdout.length).toBe(69457);

    const back = join(dir, 'back');
    const down = await run(['mirror', s3, back, '--init', '--concurrency', '4']);
    expect(down.code, down.err).toBe(0);
    expect(await tree(back, ours)).toEqual(await tree(source, ours));

    // Nothing changed: nothing is copied.
    const again = await run(['--json', 'mirror', source, s3]);
    expect(JSON.parse(again.out)).toMatchObject({ copied: 0, deleted: 0 });

    // A change travels; --dry-run only reports; --delete removes what the source dropped.
    await run(['--db', source, 'meta', 'set', 'real_plant', 'checked', 'true']);
    const dry = await run(['--json', 'mirror', source, s3, '--dry-run']);
    expect(JSON.parse(dry.out)).toMatchObject({ copied: 1, dryRun: true });
    expect((await run(['--db', s3, 'meta', 'get', 'real_plant', 'checked'])).code).toBe(1);
    expect(JSON.parse((await run(['--json', 'mirror', source, s3])).out)).toMatchObject({ copied: 1 });
    expect((await run(['--db', s3, 'meta', 'get', 'real_plant', 'checked'])).out).toBe('true\n');
    expect((await run(['--db', s3, 'check', '--fix'])).out).toBe('ok\n');
    const unlock = await run(['--db', s3, 'unlock', '--force']);
    expect(unlock.code, unlock.err).toBe(0);
    expect(unlock.out).toMatch(/^s3:\/\/.* was not locked\n$/);
  });

  it('export and import archive work against s3 too', async () => {
    const dir = await tempDir();
    const archive = join(dir, 'real_plant.tar.gz');
    expect((await run(['--db', s3, 'export', 'real_plant', archive])).code).toBe(0);
    const bucket = await server.bucket();
    const other = `s3://${bucket}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
    await run(['--db', other, 'init']);
    const r = await run(['--db', other, '--json', 'import', 'archive', archive]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ scans: ['real_plant'], problems: [] });
    const local = join(dir, 'local');
    await run(['mirror', other, local, '--init']);
    const fromS3 = join(dir, 'from-s3');
    await run(['mirror', s3, fromS3, '--init', '--scan', 'real_plant']);
    expect(await tree(join(local, 'real_plant'))).toEqual(await tree(join(fromS3, 'real_plant')));
  });

  it('from s3 to a folder: romidb\'s own keys stay behind, a key that is also a folder is named and fails the run', async () => {
    const bucket = await server.bucket();
    const hostile = `s3://${bucket}/h?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
    expect((await run(['--db', hostile, 'init'])).code).toBe(0);
    const notes = join(await tempDir(), 'notes');
    await mkdir(notes);
    await writeFile(join(notes, 'a.txt'), 'a');
    expect((await run(['--db', hostile, 'import', 'folder', notes, '--scan', 's', '--fileset', 'fs'])).code).toBe(0);
    // What other S3 clients may have left: a temporary name, and a key that is also a folder.
    const raw = new S3Backend({ bucket, prefix: 'h', endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: server.credentials });
    const bytes = new TextEncoder().encode('x');
    await raw.put('s/fs/.romidb-123-0-abc.tmp', bytes);
    await raw.put('s/fs/both', bytes);
    await raw.put('s/fs/both/inner.txt', bytes);
    raw.client.destroy();
    const local = join(await tempDir(), 'local');
    const r = await run(['--json', 'mirror', hostile, local, '--init']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: warning: not copied: "s/fs/both" is also the name of a folder in the source\n');
    expect(JSON.parse(r.out)).toMatchObject({ conflicts: ['s/fs/both'] });
    expect(await readdir(join(local, 's/fs'))).toEqual(['a.txt', 'both']);
    expect(await readdir(join(local, 's/fs/both'))).toEqual(['inner.txt']);
  });

  it('s3 errors are one line and never show credentials', async () => {
    const missing = `s3://no-such-bucket-romidb?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
    const r = await run(['--db', missing, 'ls']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^romidb: [^\n]*no-such-bucket-romidb[^\n]*\n$/);
    expect(r.err).not.toContain(server.credentials.secretAccessKey);
    const creds = await run(['--db', `s3://b/p?endpoint=${encodeURIComponent(server.endpoint)}&secretAccessKey=hunter2`, 'ls']);
    expect(creds.code).toBe(2);
    expect(creds.err).not.toContain('hunter2');
    expect(creds.err).toContain('secretAccessKey=***');
    const inEndpoint = await run(['--db', 's3://b/p?endpoint=http://AKIA:hunter2@127.0.0.1:1', 'ls']);
    expect(inEndpoint.code).toBe(2);
    expect(inEndpoint.err).not.toContain('hunter2');
  });
});
