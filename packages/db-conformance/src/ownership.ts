/**
 * Ownership: romidb never overwrites or deletes what it did not write. create* refuses a name
 * whose place in storage is taken (ROMI_ALREADY_EXISTS, storage unchanged); objects that a
 * foreign files.json lists under reserved or unsafe ids stay readable but cannot be changed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, toKey } from '@romi/db-core';
import { putText, text } from './context.js';
import type { Harness } from './harness.js';

export function describeOwnership(h: Harness): void {
  const { failsCleanly } = h;
  const put = (key: string, value: string) => putText(h.ctx().backend, key, value);

  describe('ownership', () => {
    beforeEach(async () => {
      await h.db().connect();
    });

    it('createScan refuses a folder that holds data but is not a scan, changing nothing', async () => {
      await put('plant_001/thesis.tex', 'years of work');
      await put('plant_001/figures/fig1.png', 'png');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => h.db().createScan('plant_001'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => h.db().createScan('plant_001', { metadata: { a: 1 } }));
      await put('notes', 'a plain file where a scan folder would go');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => h.db().createScan('notes'));
    });

    it('createScan takes an empty folder', async () => {
      await h.ctx().backend.put(toKey('empty_scan/'), new Uint8Array());
      const scan = await h.db().createScan('empty_scan', { metadata: { a: 1 } });
      expect(await scan.getMetadata('a')).toBe(1);
      expect(await h.db().listScans()).toEqual(['empty_scan']);
    });

    it('createFileset refuses a folder with unlisted data and orphan metadata, changing nothing', async () => {
      const scan = await h.db().createScan('s');
      await put('s/masks/old_mask.png', 'unlisted data');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('masks'));
      await put('s/metadata/images.json', '{"orphan": true}');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('images'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('images', { metadata: { a: 1 } }));
      await put('s/metadata/points/p1.json', '{"orphan": true}');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('points'));
      await put('s/plain', 'a file where a fileset folder would go');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('plain'));
      expect(await scan.listFilesets()).toEqual([]);
    });

    it('createFile, createFiles and writes never replace unlisted data or orphan metadata', async () => {
      const scan = await h.db().createScan('s');
      const fs = await scan.createFileset('fs');
      await put('s/metadata/fs/ghost.json', '{"orphan": true}');
      await put('s/fs/stray.png', 'unlisted');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fs.createFile('ghost'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fs.createFile('ghost', { metadata: { a: 1 } }));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () =>
        fs.createFiles([
          { id: 'ok_1', data: 'one', ext: 'txt' },
          { id: 'stray', data: 'two', ext: 'png' },
          { id: 'ok_2', data: 'three', ext: 'txt', metadata: { n: 3 } },
        ]),
      );
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fs.createFiles([{ id: 'ghost', data: 'x', ext: 'txt', metadata: { n: 1 } }]));
      const stray = await fs.createFile('stray');
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => stray.writeBytes(new Uint8Array([1, 2]), 'png'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => stray.writeStream((async function* () { yield new Uint8Array([1]); })(), 'png'));
      // Another extension is free: the file takes it, and the unlisted data stays.
      await stray.writeText('mine', 'txt');
      expect(await text(h.ctx().backend, 's/fs/stray.png')).toBe('unlisted');
      expect(await text(h.ctx().backend, 's/metadata/fs/ghost.json')).toBe('{"orphan": true}');
    });

    it('objects a foreign files.json lists under reserved or unsafe ids stay readable but cannot be changed', async () => {
      await put(
        's/files.json',
        JSON.stringify({
          filesets: [
            { id: 'metadata', files: [{ id: 'metadata', file: 'metadata.json' }] },
            { id: 'files.json', files: [] },
            { id: 'webcache', files: [] },
            { id: 'good', files: [{ id: '../escape', file: 'x.txt' }, { id: 'plain', file: 'plain.txt' }] },
          ],
        }),
      );
      await put('s/metadata/metadata.json', '{"keep": 1}');
      await put('s/good/x.txt', 'x');
      await put('s/good/plain.txt', 'plain');
      await h.db().reload();
      const scan = await h.db().getScan('s');
      expect(await scan.listFilesets()).toEqual(['metadata', 'files.json', 'webcache', 'good']);
      const reserved = await scan.getFileset('metadata');
      expect(await (await reserved.getFile('metadata')).readText()).toBe('{"keep": 1}');
      for (const id of ['metadata', 'files.json', 'webcache']) await failsCleanly(ErrorCodes.INVALID_ID, () => scan.deleteFileset(id));
      await failsCleanly(ErrorCodes.INVALID_ID, () => reserved.deleteFile('metadata'));
      await failsCleanly(ErrorCodes.INVALID_ID, () => reserved.createFile('new'));
      await failsCleanly(ErrorCodes.INVALID_ID, () => reserved.setMetadata('a', 1));
      await failsCleanly(ErrorCodes.INVALID_ID, async () => (await reserved.getFile('metadata')).writeText('{}', 'json'));
      // One hostile file id does not break the listing; that file cannot be changed.
      const good = await scan.getFileset('good');
      const files = await good.getFiles();
      expect(files.map((f) => f.id)).toEqual(['../escape', 'plain']);
      expect(await h.codeOf(files[0]!.getMetadata())).toBe(ErrorCodes.INVALID_KEY);
      await failsCleanly(ErrorCodes.INVALID_ID, () => files[0]!.writeText('y', 'txt'));
      expect(await files[1]!.readText()).toBe('plain');
      expect(await h.db().listScans()).toEqual(['s']);
    });

    it('deleting a fileset whose folder is a plain file removes the entry and keeps the file', async () => {
      await put('s/files.json', JSON.stringify({ filesets: [{ id: 'notes.txt', files: [] }] }));
      await put('s/metadata/metadata.json', '{}');
      await put('s/notes.txt', 'notes');
      await h.db().reload();
      const scan = await h.db().getScan('s');
      await scan.deleteFileset('notes.txt');
      expect(await scan.listFilesets()).toEqual([]);
      expect(await text(h.ctx().backend, 's/notes.txt')).toBe('notes');
    });
  });

  describe('leftovers of stopped writers', () => {
    const leave = async (): Promise<void> => {
      const scan = await h.db().createScan('s', { metadata: { a: 1 } });
      await (await (await scan.createFileset('fs')).createFile('f')).writeText('data', 'txt');
      await put('s/fs/.romidb-zz-1-abcdef.tmp', 'half a file');
      await put('.romidb-trash-zz-2/old/x.bin', 'being removed');
      // An archive import stopped halfway: a claimed folder that never got its files.json.
      await put('half/.romidb-pending', '{}');
      await put('half/fs/a.png', 'a');
      // One stopped just before removing its marker: complete.
      await put('whole/files.json', '{"filesets": []}');
      await put('whole/metadata/metadata.json', '{}');
      await put('whole/.romidb-pending', '{}');
    };

    it('are reported by check and removed by check --fix; nothing else changes', async () => {
      await h.db().connect();
      await leave();
      await h.db().disconnect();
      const reader = h.db();
      await reader.connect({ readOnly: true });
      const report = await reader.check();
      expect(report.ok).toBe(false);
      expect(report.problems.map((p) => `${p.kind} ${p.key}`).sort()).toEqual([
        'incomplete-scan half/',
        'incomplete-scan whole/.romidb-pending',
        'temp-file .romidb-trash-zz-2/',
        'temp-file s/fs/.romidb-zz-1-abcdef.tmp',
      ]);
      await reader.disconnect();
      await h.db().connect();
      const fixed = await h.db().check({ fix: true });
      expect(fixed.ok).toBe(true);
      expect(fixed.problems.every((p) => p.fixed)).toBe(true);
      expect(await h.db().check()).toEqual({ ok: true, problems: [] });
      expect(await h.db().listScans()).toEqual(['s', 'whole']);
      expect(await (await (await (await h.db().getScan('s')).getFileset('fs')).getFile('f')).readText()).toBe('data');
      const keys: string[] = [];
      for await (const e of h.ctx().backend.list('', { internal: true })) if (e.kind === 'object') keys.push(e.key);
      expect(keys.filter((k) => k.includes('.romidb-') && !k.includes('.romidb-lock') && !k.startsWith('.romidb-mirror'))).toEqual([]);
    });

    it('a rewrite with another extension stopped before or after its index write is finished by check --fix', async () => {
      await h.db().connect();
      const fs = await (await h.db().createScan('r')).createFileset('fs');
      await (await fs.createFile('before')).writeText('old', 'png');
      await (await fs.createFile('after')).writeText('old', 'png');
      // Stopped before its index write: the marker and the new data, the index naming the old.
      await put('r/fs/.romidb-replaced-before.png', 'before.jpg');
      await put('r/fs/before.jpg', 'new');
      // Stopped after it: the index names the new data, the old one and the marker are left.
      await (await fs.getFile('after')).writeText('new', 'jpg');
      await put('r/fs/after.png', 'old');
      await put('r/fs/.romidb-replaced-after.png', 'after.jpg');
      await h.db().disconnect();
      await h.db().connect();
      const report = await h.db().check({ fix: true });
      expect(report.problems.map((p) => `${p.kind} ${p.key}${p.fixed ? ' fixed' : ''}`).sort()).toEqual([
        'temp-file r/fs/.romidb-replaced-after.png fixed',
        'temp-file r/fs/.romidb-replaced-before.png fixed',
        'temp-file r/fs/after.png fixed',
        'temp-file r/fs/before.jpg fixed',
      ]);
      expect(await h.db().check()).toEqual({ ok: true, problems: [] });
      const files = await (await (await h.db().getScan('r')).getFileset('fs')).getFiles();
      expect(await Promise.all(files.map(async (f) => `${f.filename} ${await f.readText()}`))).toEqual(['before.png old', 'after.jpg new']);
    });

    it('a check beside a live writer does not call its temporary files leftovers', async () => {
      await h.db().connect();
      await leave();
      const reader = await h.ctx().open();
      await reader.connect({ readOnly: true });
      const report = await reader.check();
      expect(report.problems.map((p) => p.kind).sort()).toEqual(['incomplete-scan', 'incomplete-scan']);
      await reader.disconnect();
    });
  });
}
