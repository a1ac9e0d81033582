import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { dummyDB, MemDB } from '../src/index.js';

describe('dummyDB', () => {
  it('is connected and empty without flags', async () => {
    const db = await dummyDB();
    expect(db.isConnected).toBe(true);
    expect(await db.listScans()).toEqual([]);
  });

  it('cascades flags: a file implies its fileset and scan', async () => {
    const db = await dummyDB({ withFile: true });
    const scan = await db.getScan('myscan_001');
    expect(await scan.getMetadata()).toEqual({ test: 1 });
    const fileset = await scan.getFileset('fileset_001');
    expect(await fileset.getMetadata()).toEqual({ test_fileset: 1 });
    expect(await fileset.listFiles()).toEqual(['dummy_image', 'test_image', 'test_json']);

    const dummy = await fileset.getFile('dummy_image');
    expect(dummy.filename).toBe('dummy_image.png');
    expect(await dummy.getMetadata()).toEqual({ 'dummy image': true });
    expect((await sharp(await dummy.readBytes()).metadata()).channels).toBe(1);
    const { data, info } = await sharp(await dummy.readBytes()).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([2, 2, 1]);
    expect([...data]).toEqual([255, 0, 0, 255]);

    const image = await fileset.getFile('test_image');
    expect(await image.getMetadata()).toEqual({ 'random image': true });
    const meta = await sharp(await image.readBytes()).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 50, 50, 3]);

    const json = await fileset.getFile('test_json');
    expect(JSON.parse(await json.readText())).toEqual({ 'Who you gonna call?': 'Ghostbuster' });
    expect(await json.getMetadata()).toEqual({ 'random json': true });
  });

  it('withScan and withFileset stop where asked', async () => {
    const onlyScan = await dummyDB({ withScan: true });
    expect(await (await onlyScan.getScan('myscan_001')).listFilesets()).toEqual([]);
    const withFileset = await dummyDB({ withFileset: true });
    expect(await (await (await withFileset.getScan('myscan_001')).getFileset('fileset_001')).listFiles()).toEqual([]);
  });

  it('gives each database its own volume', async () => {
    const a = new MemDB();
    const b = new MemDB();
    await a.connect();
    await b.connect();
    await a.createScan('only_in_a');
    expect(await b.listScans()).toEqual([]);
    expect(a.url).not.toBe(b.url);
  });
});
