// POST /file/<scan>/<fs>/<f> (plantdb's multipart upload) on each backend: the bytes stored are
// the upload, its metadata stored, GET /file and files.json see it; every refusal (bad id, no
// file, no or bad ext, bad metadata, unknown scan or fileset, existing file, a reader, no token,
// a file over `writes.uploadLimit`, a client gone mid-upload) leaves storage unchanged.
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '@romi/db-core';
import { AccountStore, type AccountStoreOptions } from '../src/index.js';
import { get, serve, targets, type Answer, type Running } from './harness.js';
import { request } from 'undici';

/** Cheap hashes: these tests are about routes, not argon2's cost (accounts.test.ts checks the real one). */
const FAST: AccountStoreOptions = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
const SECRET = randomBytes(48);
const PASSWORD = 'correct horse battery';
const LIMIT = 64 * 1024;

/** Every stored object and a hash of its bytes. */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.list('')) {
    if (e.kind !== 'object' || e.key.endsWith('/')) continue;
    const { bytes } = await backend.get(e.key as Parameters<Backend['get']>[0]);
    out.set(e.key, createHash('sha256').update(bytes).digest('hex'));
  }
  return out;
}

interface Part {
  name: string;
  value: string | Uint8Array;
  filename?: string;
}

const BOUNDARY = '----romidb-upload-test';

/** A multipart/form-data body with the parts in this order. */
function form(parts: Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const file = p.filename !== undefined ? `; filename="${p.filename}"\r\nContent-Type: application/octet-stream` : '';
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

type Who = 'admin' | 'reader';

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  const token = {} as Record<Who, string>;
  const url = (path: string) => `${server.url}${path}`;

  async function upload(path: string, parts: Part[], who?: Who): Promise<Answer> {
    const res = await request(url(path), { method: 'POST', body: form(parts), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...(who ? { authorization: `Bearer ${token[who]}` } : {}) } });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: {}, body, json: () => JSON.parse(body.toString('utf8')), text: () => body.toString('utf8') };
  }

  /** Runs a request that must be refused and checks that nothing was stored. */
  async function refused(send: () => Promise<Answer>, status: number, message?: string): Promise<Answer> {
    const before = await snapshot(made.backend);
    const res = await send();
    expect(res.status, res.text()).toBe(status);
    if (message) expect(res.json().message).toContain(message);
    expect(await snapshot(made.backend)).toEqual(before);
    return res;
  }

  beforeAll(async () => {
    made = await target.make();
    const accounts = new AccountStore(made.backend, FAST);
    await accounts.addUser({ username: 'admin', fullname: 'Lab Admin', password: PASSWORD, roles: ['admin'] });
    await accounts.addUser({ username: 'reader', fullname: 'A Reader', password: PASSWORD, roles: ['reader'] });
    server = await serve(made.db, { auth: { secret: SECRET, accounts: FAST }, writes: { uploadLimit: LIMIT } });
    for (const who of ['admin', 'reader'] as const) token[who] = (await get(url('/login'), { json: { username: who, password: PASSWORD } })).json().access_token;
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  it('stores the uploaded bytes and metadata; GET /file and files.json see it', async () => {
    const data = randomBytes(LIMIT - 10);
    const res = await upload('/file/real_plant/images/uploaded_1', [
      { name: 'ext', value: 'PNG' },
      { name: 'metadata', value: JSON.stringify({ shot: { n: 1 }, note: 'é' }) },
      { name: 'file', value: data, filename: 'x.png' },
    ], 'admin');
    expect(res.status, res.text()).toBe(201);
    expect(res.json()).toEqual({ message: "File created and written successfully in fileset 'images'.", id: 'uploaded_1' });
    const stored = await made.backend.get('real_plant/images/uploaded_1.png' as Parameters<Backend['get']>[0]);
    expect(Buffer.from(stored.bytes).equals(data)).toBe(true);
    const served = await get(url('/file/real_plant/images/uploaded_1'));
    expect(served.status).toBe(200);
    expect(served.body.equals(data)).toBe(true);
    expect((await get(url('/file/real_plant/images/uploaded_1/metadata'))).json().metadata).toEqual({ shot: { n: 1 }, note: 'é' });
    const index = JSON.parse(Buffer.from((await made.backend.get('real_plant/files.json' as Parameters<Backend['get']>[0])).bytes).toString('utf8'));
    const images = index.filesets.find((f: { id: string }) => f.id === 'images');
    expect(images.files).toContainEqual({ id: 'uploaded_1', file: 'uploaded_1.png' });
    // `.txt` with its dot, no metadata.
    const text = await upload('/file/real_plant/images/uploaded_2', [{ name: 'ext', value: '.txt' }, { name: 'file', value: 'hello', filename: 'a.txt' }], 'admin');
    expect(text.status, text.text()).toBe(201);
    expect((await get(url('/file/real_plant/images/uploaded_2'))).text()).toBe('hello');
  });

  it('refusals leave storage unchanged', async () => {
    const file: Part = { name: 'file', value: 'data', filename: 'a.txt' };
    const ext: Part = { name: 'ext', value: 'txt' };
    await refused(() => upload('/file/real_plant/images/no_file', [ext], 'admin'), 400, 'No file provided');
    await refused(() => upload('/file/real_plant/images/no_ext', [file], 'admin'), 400, "'ext' field is required");
    await refused(() => upload('/file/real_plant/images/bad_ext', [{ name: 'ext', value: 'exe' }, file], 'admin'), 400, 'Invalid file extension');
    await refused(() => upload('/file/real_plant/images/bad_md', [ext, { name: 'metadata', value: '{nope' }, file], 'admin'), 400, 'metadata');
    await refused(() => upload('/file/real_plant/images/bad_md', [ext, { name: 'metadata', value: '[1]' }, file], 'admin'), 400, 'metadata');
    await refused(() => upload('/file/real_plant/images/bad%20id', [ext, file], 'admin'), 400);
    await refused(() => upload('/file/real_plant/images/.romidb', [ext, file], 'admin'), 400);
    await refused(() => upload('/file/no_such_scan/images/f', [ext, file], 'admin'), 404);
    await refused(() => upload('/file/real_plant/no_such_fs/f', [ext, file], 'admin'), 404);
    await refused(() => upload('/file/real_plant/images/f', [ext, file], 'reader'), 403);
    await refused(() => upload('/file/real_plant/images/f', [ext, file]), 401);
    // An existing file: 409 (plantdb: 500).
    expect((await upload('/file/real_plant/images/twice', [ext, file], 'admin')).status).toBe(201);
    await refused(() => upload('/file/real_plant/images/twice', [ext, { ...file, value: 'other' }], 'admin'), 409);
    // Not multipart.
    await refused(() => get(url('/file/real_plant/images/json'), { json: { ext: 'txt' }, headers: { authorization: `Bearer ${token.admin}` } }), 400);
  });

  it('a file over the upload limit is a 413 and nothing is kept', async () => {
    await refused(() => upload('/file/real_plant/images/too_big', [{ name: 'ext', value: 'ply' }, { name: 'file', value: randomBytes(LIMIT + 1), filename: 'a.ply' }], 'admin'), 413);
    expect((await get(url('/file/real_plant/images/too_big'))).status).toBe(404);
  });

  it('a client gone mid-upload leaves storage unchanged', async () => {
    const before = await snapshot(made.backend);
    const boundary = 'romidbboundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="ext"\r\n\r\ntxt\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`,
    );
    const req = httpRequest(url('/file/real_plant/images/cut_short'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token.admin}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + LIMIT / 2) },
    });
    req.on('error', () => {});
    req.write(head);
    req.write(Buffer.alloc(1000, 'a'));
    // Wait until the file entry exists (the upload is under way), then go away.
    const listed = async () => (await snapshot(made.backend)).size !== before.size || JSON.stringify([...(await snapshot(made.backend))]) !== JSON.stringify([...before]);
    for (let i = 0; i < 200 && !(await listed()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await listed()).toBe(true);
    req.destroy();
    let after = await snapshot(made.backend);
    for (let i = 0; i < 200 && JSON.stringify([...after]) !== JSON.stringify([...before]); i++) {
      await new Promise((r) => setTimeout(r, 25));
      after = await snapshot(made.backend);
    }
    expect(after).toEqual(before);
    // The server still writes.
    expect((await upload('/file/real_plant/images/cut_short', [{ name: 'ext', value: 'txt' }, { name: 'file', value: 'x', filename: 'a' }], 'admin')).status).toBe(201);
  });
});
