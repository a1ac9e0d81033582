/** File data: bytes, text, streams, local imports, batches, local paths. */
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Fileset } from '@romi/db-core';
import { listKeys, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

export function describeFileData(h: Harness): void {
  const { fullScan } = h;
  let ctx: ConformanceContext;

  describe('file data', () => {
    let fileset: Fileset;
    beforeEach(async () => {
      ({ ctx } = await h.connected());
      ({ fileset } = await fullScan());
    });

    it('round-trips bytes and text, and sets filename', async () => {
      const f = await fileset.createFile('f');
      const bytes = new Uint8Array(256).map((_, i) => i);
      await f.writeBytes(bytes, 'bin');
      expect(f.filename).toBe('f.bin');
      expect(await f.readBytes()).toEqual(bytes);
      const g = await fileset.createFile('g');
      await g.writeText('héllo 🌱\n', '.txt');
      expect(g.filename).toBe('g.txt');
      expect(await g.readText()).toBe('héllo 🌱\n');
      expect((await fileset.getFile('g')).filename).toBe('g.txt');
    });

    it('rewriting with another extension leaves no orphan behind', async () => {
      const f = await fileset.createFile('f');
      await f.writeText('{}', 'json');
      await f.writeText('x = 1', 'toml');
      expect(f.filename).toBe('f.toml');
      expect(await listKeys(ctx.backend, 'myscan_001/fileset_001/')).toEqual(['myscan_001/fileset_001/f.toml']);
      expect(await f.readText()).toBe('x = 1');
    });

    it('streams data in and out', async () => {
      const f = await fileset.createFile('big');
      const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
      async function* source(): AsyncIterable<Uint8Array> {
        for (let i = 0; i < 40; i++) yield chunk;
      }
      await f.writeStream(source(), 'raw');
      let total = 0;
      let sum = 0;
      for await (const part of f.readStream() as unknown as AsyncIterable<Uint8Array>) {
        total += part.byteLength;
        for (let i = 0; i < part.length; i += 997) sum += part[i]!;
      }
      expect(total).toBe(40 * chunk.byteLength);
      expect(sum).toBeGreaterThan(0);
      const web = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('from a '));
          controller.enqueue(new TextEncoder().encode('web stream'));
          controller.close();
        },
      });
      const g = await fileset.createFile('web');
      await g.writeStream(web, 'txt');
      expect(await g.readText()).toBe('from a web stream');
    });

    it('imports a local file, taking the extension from its name', async () => {
      const { mkdtemp, writeFile } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const dir = await mkdtemp(`${tmpdir()}/romidb-import-`);
      await writeFile(`${dir}/photo.JPG`, 'jpegbytes');
      const f = await fileset.createFile('photo');
      await f.importFile(`${dir}/photo.JPG`);
      expect(f.filename).toBe('photo.JPG');
      expect(await f.readText()).toBe('jpegbytes');
    });

    it('creates many files in one batch with data and metadata', async () => {
      const files = await fileset.createFiles(
        Array.from({ length: 50 }, (_, i) => ({ id: `img_${String(i).padStart(3, '0')}`, data: new Uint8Array([i]), ext: 'png', metadata: { i } })),
        { concurrency: 4 },
      );
      expect(files).toHaveLength(50);
      expect(files[7]!.filename).toBe('img_007.png');
      expect(await fileset.listFiles()).toEqual(files.map((f) => f.id));
      expect(await (await fileset.getFile('img_042')).readBytes()).toEqual(new Uint8Array([42]));
      expect(await (await fileset.getFile('img_042')).getMetadata('i')).toBe(42);
      const unwritten = await fileset.createFiles([{ id: 'later' }]);
      expect(unwritten[0]!.filename).toBeNull();
    });

    it('gives the real local path of written data', async ({ skip }) => {
      const lacking = h.lacks('localPath');
      skip(lacking !== undefined, `skipped: ${lacking}`);
      const f = await fileset.createFile('f');
      expect(f.localPath()).toBeUndefined();
      await f.writeText('local', 'txt');
      const path = f.localPath();
      expect(path).toMatch(/myscan_001\/fileset_001\/f\.txt$/);
      expect(readFileSync(path!, 'utf8')).toBe('local');
    });

    it('gives no local path where the backend has none', async ({ skip }) => {
      skip(h.lacks('localPath') === undefined, 'skipped: this backend has local paths (capabilities.localPaths true)');
      const f = await fileset.createFile('f');
      await f.writeText('x', 'txt');
      expect(f.localPath()).toBeUndefined();
    });
  });
}
