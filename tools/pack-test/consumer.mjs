// Run by tools/pack-test/run.mjs inside an empty project where the packed tarballs were installed
// with npm: plain `node`, no source condition, so every import below is the package's built dist.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB } from '@romi/memdb';
import { S3DB } from '@romi/s3db';
import { decodeNpy, encodeNpy, ndarray } from '@romi/io';
import { main, VERSION } from '@romi/cli';
import { describeConformance } from '@romi/db-conformance';
import { createServer, VERSION as SERVER_VERSION } from '@romi/server';

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

// The packages installed (run.mjs names them all): each export of each loads from its dist.
check('every export of every package loads from dist/', async () => {
  assert.ok(process.argv.length > 2, 'usage: node consumer.mjs <package>…');
  for (const name of process.argv.slice(2)) {
    const manifest = JSON.parse(await readFile(new URL(`node_modules/${name}/package.json`, import.meta.url), 'utf8'));
    for (const subpath of Object.keys(manifest.exports)) {
      // package.json itself (the only export of @romi/viewer, whose dist/ the server serves).
      if (subpath.endsWith('.json')) continue;
      const specifier = `${name}${subpath.slice(1)}`;
      assert.match(import.meta.resolve(specifier), new RegExp(`/node_modules/${name}/dist/[^/]+\\.js$`), specifier);
      assert.ok(Object.keys(await import(specifier)).length > 0, `${specifier} exports nothing`);
    }
  }
});

check('MemDB: a scan, a fileset and a file written and read back', async () => {
  const db = new MemDB();
  await db.connect();
  const scan = await db.createScan('plant_001', { metadata: { species: 'arabidopsis' } });
  const images = await scan.createFileset('images');
  const file = await images.createFile('frame_0', { metadata: { i: 0 } });
  await file.writeBytes(new Uint8Array([1, 2, 3]), 'bin');
  assert.deepEqual([...(await (await images.getFile('frame_0')).readBytes())], [1, 2, 3]);
  assert.deepEqual(await db.listScans(), ['plant_001']);
  await assert.rejects(db.getScan('nope'), (err) => isRomiError(err, 'ROMI_NOT_FOUND'));
  await db.disconnect();
});

check('FSDB on a temporary folder: the files.json the Python tools read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'romidb-packed-fsdb-'));
  try {
    await FSDB.init(dir);
    const db = new FSDB(dir);
    await db.connect();
    const fileset = await (await db.createScan('s')).createFileset('f');
    await (await fileset.createFile('x')).writeBytes(new TextEncoder().encode('hello'), 'txt');
    await db.disconnect();
    assert.equal(await readFile(join(dir, 's', 'f', 'x.txt'), 'utf8'), 'hello');
    assert.match(await readFile(join(dir, 's', 'files.json'), 'utf8'), /"file": "x\.txt"/);
    const reader = new FSDB(dir);
    await reader.connect({ readOnly: true });
    assert.deepEqual(await reader.listScans(), ['s']);
    await reader.disconnect();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

check('@romi/io: an NPY round trip', () => {
  const array = ndarray('float32', [2, 3]);
  array.data.set([1, 2, 3, 4, 5, 6]);
  const back = decodeNpy(encodeNpy(array));
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual([...back.data], [1, 2, 3, 4, 5, 6]);
});

check('@romi/s3db: an S3DB is made without touching the network', async () => {
  const db = new S3DB({ bucket: 'scans', prefix: 'db', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true });
  assert.equal(db.bucket, 'scans');
  assert.equal(db.prefix, 'db');
  await db.close();
});

check('@romi/cli: main() in-process, VERSION is the packed version', async () => {
  const manifest = JSON.parse(await readFile(new URL('node_modules/@romi/cli/package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, manifest.version);
  const out = [];
  const stream = { write: (s) => (out.push(String(s)), true) };
  const code = await main(['node', 'romidb', '--version'], { stdout: stream, stderr: stream, env: {} });
  assert.equal(code, 0);
  assert.equal(out.join('').trim(), VERSION);
});

check('@romi/server: createServer over a MemDB answers /health, /scans and /viewer/ on a free port', async () => {
  const manifest = JSON.parse(await readFile(new URL('node_modules/@romi/server/package.json', import.meta.url), 'utf8'));
  assert.equal(SERVER_VERSION, manifest.version);
  const db = new MemDB();
  await db.connect();
  await db.createScan('plant_001');
  const app = await createServer({ db, rateLimit: false });
  try {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    const body = await health.json();
    assert.equal(body.status, 'healthy');
    assert.equal(body.database.scan_count, 1);
    assert.deepEqual(await (await fetch(`${url}/scans`)).json(), ['plant_001']);
    // The web viewer, from the installed @romi/viewer's dist/.
    const viewer = await fetch(`${url}/viewer/`);
    assert.equal(viewer.status, 200);
    const html = await viewer.text();
    assert.match(html, /<div id="app">/);
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'index.html names its script');
    assert.equal((await fetch(`${url}/viewer/${script}`)).status, 200);
  } finally {
    await app.close();
    await db.disconnect();
  }
});

check('the installed romidb bin: serve --port 0 --json answers /health, SIGTERM stops it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'romidb-packed-serve-'));
  try {
    await FSDB.init(dir);
    const db = new FSDB(dir);
    await db.connect();
    await db.createScan('s');
    await db.disconnect();
    const bin = new URL('node_modules/.bin/romidb', import.meta.url).pathname;
    const child = spawn(bin, ['serve', '--db', dir, '--port', '0', '--json', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
    try {
      // --json prints one JSON document, {"url": …, "db": …}, once listening.
      const url = await new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => reject(new Error(`no url within 30 s; stderr: ${err}`)), 30_000);
        child.stderr.on('data', (d) => (err += d));
        child.stdout.on('data', (d) => {
          out += d;
          try {
            resolve(JSON.parse(out).url);
            clearTimeout(timer);
          } catch {
            // not the whole document yet
          }
        });
        exited.then((code) => reject(new Error(`exited ${code} before printing its url; stdout: ${out}; stderr: ${err}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      const health = await (await fetch(`${url}/health`)).json();
      assert.equal(health.database.scan_count, 1);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'exit code after SIGTERM');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

check('@romi/db-conformance loads beside vitest', () => {
  assert.equal(typeof describeConformance, 'function');
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`  ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`  FAIL ${name}\n${String(err?.stack ?? err).replace(/^/gm, '       ')}`);
  }
}
process.exitCode = failed ? 1 : 0;
