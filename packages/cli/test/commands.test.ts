// Every command once through the built binary, and the bad inputs a user can type.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, REAL_PLANT, tempDir } from './helpers.js';

let run: Awaited<ReturnType<typeof cli>>['run'];
let db: string;
let home: string;

beforeAll(async () => {
  const c = await cli();
  home = c.home;
  db = join(await tempDir(), 'db');
  run = (args, opts) => c.run(args, { ...opts, env: { ROMIDB: db, ...opts?.env } });
  expect((await run(['init'])).out).toBe(`initialised file://${db}\n`);
  const imported = await run(['import', 'images', join(REAL_PLANT, 'images'), '--scan', 'plant_1']);
  expect(imported.code, imported.err).toBe(0);
});

describe('browsing', () => {
  it('init is idempotent', async () => {
    const r = await run(['init', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ url: `file://${db}`, created: false });
  });

  it('ls lists scans, filesets and files, as text or JSON', async () => {
    expect((await run(['ls'])).out).toBe('plant_1\n');
    expect(JSON.parse((await run(['--json', 'ls'])).out)).toEqual(['plant_1']);
    expect((await run(['ls', 'plant_1'])).out).toBe('images\n');
    const files = JSON.parse((await run(['ls', 'plant_1/images', '--json'])).out);
    expect(files).toEqual([0, 1, 2, 3].map((i) => ({ id: `0000${i}_rgb`, filename: `0000${i}_rgb.jpg` })));
    expect((await run(['ls', 'plant_1/images'])).out.split('\n')[0]).toBe('00000_rgb\t00000_rgb.jpg');
  });

  it('--db wins over ROMIDB, and ROMIDB alone is enough', async () => {
    const other = join(await tempDir(), 'other');
    await run(['--db', other, 'init']);
    expect((await run(['--db', other, 'ls'])).out).toBe('');
    expect((await run(['ls'])).out).toBe('plant_1\n');
  });

  it('info gives metadata, filesets, counts and sizes', async () => {
    const r = await run(['--json', 'info', 'plant_1']);
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out);
    expect(info).toMatchObject({ id: 'plant_1', files: 4, filesets: [{ id: 'images', files: 4, missing: 0 }] });
    expect(info.bytes).toBe(278519);
    expect((await run(['info', 'plant_1'])).out).toMatch(/images\s+4 files\s+272 KiB/);
  });

  it('cat writes the exact bytes', async () => {
    const r = await run(['cat', 'plant_1/images/00002_rgb']);
    expect(r.code).toBe(0);
    expect(r.stdout.equals(await readFile(join(REAL_PLANT, 'images/00002_rgb.jpg')))).toBe(true);
  });

  it('meta set parses JSON values, keeps other strings, and merges files', async () => {
    expect((await run(['meta', 'set', 'plant_1', 'species', 'arabidopsis'])).code).toBe(0);
    await run(['meta', 'set', 'plant_1', 'count', '42']);
    await run(['meta', 'set', 'plant_1/images/00001_rgb', 'pose', '[1, 2.5, 0]']);
    await writeFile(join(home, 'm.json'), '{"channel": "rgb", "n": {"a": true}}');
    await run(['meta', 'set', 'plant_1/images', '--file', join(home, 'm.json')]);
    expect(JSON.parse((await run(['meta', 'get', 'plant_1', '--json'])).out)).toEqual({ species: 'arabidopsis', count: 42 });
    expect((await run(['meta', 'get', 'plant_1', 'species'])).out).toBe('arabidopsis\n');
    expect(JSON.parse((await run(['meta', 'get', 'plant_1/images/00001_rgb', 'pose'])).out)).toEqual([1, 2.5, 0]);
    expect(JSON.parse((await run(['meta', 'get', 'plant_1/images'])).out)).toEqual({ channel: 'rgb', n: { a: true } });
    expect((await run(['ls', '--query', '{"species": "arab.*"}', '--fuzzy'])).out).toBe('plant_1\n');
    expect((await run(['ls', '--query', '{"species": "arab"}'])).out).toBe('');
    const missing = await run(['meta', 'get', 'plant_1', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('romidb: No metadata key "nope" on "plant_1"\n');
  });

  it('import file and import folder', async () => {
    const src = join(await tempDir(), 'measures');
    await mkdir(src);
    await writeFile(join(src, 'a.txt'), 'hello');
    await writeFile(join(src, 'b.csv'), '1,2\n');
    await writeFile(join(src, '.hidden'), 'skipped');
    const folder = await run(['import', 'folder', src, '--scan', 'plant_2', '--json']);
    expect(folder.code, folder.err).toBe(0);
    expect(JSON.parse(folder.out)).toMatchObject({ scan: 'plant_2', fileset: 'measures', files: 2 });
    expect((await run(['ls', 'plant_2/measures'])).out).toBe('a\ta.txt\nb\tb.csv\n');
    const again = await run(['import', 'folder', src, '--scan', 'plant_2']);
    expect(again.code).toBe(1);
    expect(again.err).toBe('romidb: Fileset "measures" already exists in scan "plant_2"\n');

    const file = await run(['import', 'file', join(src, 'a.txt'), 'plant_2/notes', '--id', 'note', '--metadata', '{"by": "me"}']);
    expect(file.code, file.err).toBe(0);
    expect((await run(['cat', 'plant_2/notes/note'])).out).toBe('hello');
    expect(JSON.parse((await run(['meta', 'get', 'plant_2/notes/note'])).out)).toEqual({ by: 'me' });
    expect((await run(['check'])).out).toBe('ok\n');
  });

  it('unlock needs --force, and clears a lock left behind', async () => {
    const r = await run(['unlock']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^romidb: .*--force/);
    await writeFile(join(db, 'lock'), ''); // what romidata leaves
    const busy = await run(['meta', 'set', 'plant_1', 'x', '1']);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/^romidb: Database .* is locked by another tool/);
    const check = await run(['check']);
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/^foreign-lock\tlock\t/);
    expect((await run(['unlock', '--force'])).out).toBe(`removed the lock of file://${db}\n`);
    expect((await run(['meta', 'set', 'plant_1', 'x', '1'])).code).toBe(0);
    expect((await run(['unlock', '--force'])).out).toBe(`file://${db} was not locked\n`);
  });
});

describe('bad input', () => {
  it('a folder that is not a database', async () => {
    const dir = await tempDir();
    const r = await run(['--db', dir, 'ls']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`romidb: Not a romidb database: file://${dir} (the "romidb" marker is missing)\n`);
  });

  it('malformed database URLs are usage errors', async () => {
    for (const url of ['s3://', 'file://elsewhere/x', 'ftp://host/db', 's3://bucket/p?secretKey=x', 'http://[bad']) {
      const r = await run(['--db', url, 'ls']);
      expect(r.code, url).toBe(2);
      expect(r.err, url).toMatch(/^romidb: invalid database location "[^"]*": [^\n]+\n$/);
    }
  });

  it('malformed --query JSON', async () => {
    const r = await run(['ls', '--query', '{species: x}']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^romidb: --query is not valid JSON: [^\n]+\n$/);
    const notObject = await run(['ls', '--query', '[1]']);
    expect(notObject.code).toBe(2);
    expect(notObject.err).toBe('romidb: --query must be a JSON object, got [1]\n');
  });

  it('unknown commands and options, missing arguments, no database', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['ls', '--nope'])).code).toBe(2);
    expect((await run(['cat'])).code).toBe(2);
    expect((await run(['cat', 'plant_1/images'])).code).toBe(2);
    expect((await run(['import'])).code).toBe(2);
    const none = await run(['ls'], { env: { ROMIDB: '' } });
    expect(none.code).toBe(2);
    expect(none.err).toBe('romidb: no database: pass --db <path or URL> or set ROMIDB\n');
  });

  it('missing objects name the object; --debug adds the stack; --json makes errors JSON', async () => {
    const r = await run(['cat', 'plant_1/images/nope']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: unknown file: "plant_1/images/nope"\n');
    const debug = await run(['--debug', 'info', 'nope']);
    expect(debug.code).toBe(1);
    expect(debug.err.split('\n')[0]).toBe('romidb: Unknown scan "nope"');
    expect(debug.err).toMatch(/\n\s+at /);
    const json = await run(['--json', 'info', 'nope']);
    expect(JSON.parse(json.err)).toEqual({ error: { code: 'ROMI_NOT_FOUND', message: 'Unknown scan "nope"' } });
  });

  it('help and version exit 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: romidb/);
    expect((await run(['--version'])).out).toBe('0.1.0\n');
  });
});

describe('demo', () => {
  it('creates the seed database and prints its tree', async () => {
    const dir = join(await tempDir(), 'demo-db');
    const r = await run(['demo', dir]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual([dir, '└── myscan_001 {"scanner":{"hardware":"test"}}', '    └── images (99 files)']);
    expect(lines.at(-1)).toBe('        └── image_098.png  256×256×3  {"key":98}');
    expect((await run(['--db', dir, 'check'])).code).toBe(0);
  });
});
