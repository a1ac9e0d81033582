/**
 * What Python's json module writes and JavaScript's JSON loses or refuses (NaN, ±Infinity, -0.0,
 * deep nesting), through the API: read, queried, checked, and written back as Python writes it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, MAX_JSON_DEPTH } from '@romi/db-core';
import { MemDB } from '../src/index.js';

const PYTHON = '/usr/bin/python3';
const golden = (name: string): string => readFileSync(new URL(`../../../test-fixtures/golden/${name}`, import.meta.url), 'utf8');

/** A database whose scans hold the given raw files (paths relative to the root), reopened so that nothing is cached. */
async function dbWith(scans: string[], files: Record<string, string>): Promise<MemDB> {
  const first = new MemDB();
  await first.connect();
  for (const id of scans) await first.createScan(id);
  await first.disconnect();
  for (const [path, text] of Object.entries(files)) {
    first.volume.mkdirSync(`/db/${path.slice(0, path.lastIndexOf('/'))}`, { recursive: true });
    first.volume.writeFileSync(`/db/${path}`, text);
  }
  const db = new MemDB({ volume: first.volume });
  await db.connect();
  return db;
}

const stored = (db: MemDB, path: string): string => db.volume.readFileSync(`/db/${path}`, 'utf8') as string;

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

/**
 * What `json.dump({"deep": [[…[276.0, -0.0]…]], "name": name}, f, sort_keys=True, indent=4)`
 * writes for a document `depth` levels deep, spelled out line by line.
 */
function pythonDeepText(depth: number, name: string): string {
  const indent = (level: number): string => ' '.repeat(4 * level);
  const lists = depth - 1;
  let text = `{\n${indent(1)}"deep": `;
  for (let k = 0; k < lists; k++) text += `[\n${indent(k + 2)}`;
  text += `276.0,\n${indent(lists + 1)}-0.0`;
  for (let k = lists - 1; k >= 0; k--) text += `\n${indent(k + 1)}]`;
  return `${text},\n${indent(1)}"name": "${name}"\n}`;
}

/** A value `depth` arrays deep. */
function deepArray(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('NaN, Infinity, -Infinity and -0.0 written by Python', () => {
  const before = golden('special-numbers-before.json');

  it('read as numbers, and queries over a database holding them work', async () => {
    const db = await dbWith(['s', 't'], { 's/metadata/metadata.json': before, 't/metadata/metadata.json': '{"plant": "rice"}' });
    const md = await (await db.getScan('s')).getMetadata();
    expect(md.mean).toBeNaN();
    expect(md.bounds).toEqual([-Infinity, Infinity]);
    expect(Object.is(md.angle, -0)).toBe(true);
    expect(md.nested).toEqual({ offset: -0, scores: [0.5, NaN, 276, -Infinity] });
    expect(await db.listScans({ query: { plant: 'arabidopsis' } })).toEqual(['s']);
    expect(await db.listScans({ query: { plant: 'rice' } })).toEqual(['t']);
    // As in Python, 0 == -0.0.
    expect(await db.listScans({ query: { nested: { offset: 0 } } })).toEqual(['s']);
    expect(await db.listScans({ query: { plant: 'a.*' }, fuzzy: true })).toEqual(['s']);
  });

  it('pass check', async () => {
    const db = await dbWith(['s'], { 's/metadata/metadata.json': before });
    expect((await db.check()).problems).toEqual([]);
  });

  it('are written back as Python writes them when another key is set', async () => {
    const db = await dbWith(['s'], { 's/metadata/metadata.json': before });
    await (await db.getScan('s')).setMetadata('exposure', 0.25);
    expect(stored(db, 's/metadata/metadata.json')).toBe(golden('special-numbers-after-set.json'));
  });

  it('are still refused as new values from users', async () => {
    const db = await dbWith(['s'], {});
    const scan = await db.getScan('s');
    for (const value of [NaN, Infinity, [1, -Infinity]]) {
      expect(isRomiError(await rejection(scan.setMetadata('x', value)), ErrorCodes.INVALID_METADATA)).toBe(true);
    }
  });

  it('-0.0 in file metadata is written back as -0.0', async () => {
    const text = '{\n    "approximate_pose": [\n        -0.0,\n        276.0,\n        80\n    ]\n}';
    const db = await dbWith(['s'], {});
    const file = await (await (await db.getScan('s')).createFileset('images')).createFile('f');
    await db.disconnect();
    db.volume.mkdirSync('/db/s/metadata/images', { recursive: true });
    db.volume.writeFileSync('/db/s/metadata/images/f.json', text);
    const again = new MemDB({ volume: db.volume });
    await again.connect();
    const reread = await (await (await again.getScan('s')).getFileset('images')).getFile(file.id);
    expect(Object.is(((await reread.getMetadata()).approximate_pose as number[])[0], -0)).toBe(true);
    await reread.setMetadata('channel', 'rgb');
    expect(stored(again, 's/metadata/images/f.json')).toBe('{\n    "approximate_pose": [\n        -0.0,\n        276.0,\n        80\n    ],\n    "channel": "rgb"\n}');
  });
});

describe(`metadata nested up to ${MAX_JSON_DEPTH} levels, as deep as Python writes`, () => {
  it.skipIf(!existsSync(PYTHON))('spells a 990-level document out as Python json.dump does (needs /usr/bin/python3)', () => {
    const script = [
      'import json, sys',
      'v = [276.0, -0.0]',
      'for _ in range(988): v = [v]',
      'json.dump({"deep": v, "name": "arabidopsis"}, sys.stdout, sort_keys=True, indent=4)',
    ].join('\n');
    expect(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 })).toBe(pythonDeepText(990, 'arabidopsis'));
  });

  it('reads a 990-level document and writes it back byte for byte as Python does', async () => {
    const db = await dbWith(['s'], { 's/metadata/metadata.json': pythonDeepText(990, 'arabidopsis') });
    const scan = await db.getScan('s');
    let deep = await scan.getMetadata('deep');
    for (let level = 2; level < 990; level++) deep = (deep as unknown[])[0];
    expect(deep).toEqual([276, -0]);
    expect(await db.listScans({ query: { name: 'arabidopsis' } })).toEqual(['s']);
    expect((await db.check()).problems).toEqual([]);
    await scan.setMetadata('name', 'rice');
    expect(stored(db, 's/metadata/metadata.json')).toBe(pythonDeepText(990, 'rice'));
  });
});

describe(`metadata nested deeper than ${MAX_JSON_DEPTH} levels is a typed error everywhere`, () => {
  const tooDeep = `{"deep": ${'['.repeat(9000)}${']'.repeat(9000)}, "name": "x"}`;

  it('reading it: ROMI_CORRUPT naming the key, for getMetadata and queries', async () => {
    const db = await dbWith(['s', 't'], { 's/metadata/metadata.json': tooDeep });
    const err = await rejection((await db.getScan('s')).getMetadata());
    expect(isRomiError(err, ErrorCodes.CORRUPT)).toBe(true);
    expect(err.message).toBe('Corrupt data at "s/metadata/metadata.json": nested deeper than 1000 levels');
    expect(isRomiError(await rejection(db.listScans({ query: { name: 'x' } })), ErrorCodes.CORRUPT)).toBe(true);
  });

  it('check: corrupt-json saying why', async () => {
    const db = await dbWith(['s'], { 's/metadata/metadata.json': tooDeep });
    expect((await db.check()).problems).toEqual([
      { kind: 'corrupt-json', scan: 's', key: 's/metadata/metadata.json', detail: 'nested deeper than 1000 levels' },
    ]);
  });

  it('writing it: ROMI_INVALID_METADATA, counting the key it goes under', async () => {
    const db = await dbWith(['s'], {});
    const scan = await db.getScan('s');
    for (const depth of [MAX_JSON_DEPTH, 2000, 200_000]) {
      const err = await rejection(scan.setMetadata('deep', deepArray(depth)));
      expect(isRomiError(err, ErrorCodes.INVALID_METADATA), String(err)).toBe(true);
      expect(err.message).toMatch(/nested deeper than 1000 levels/);
    }
    expect(isRomiError(await rejection(scan.setMetadata({ deep: deepArray(2000) })), ErrorCodes.INVALID_METADATA)).toBe(true);
    expect(isRomiError(await rejection(db.createScan('u', { metadata: { deep: deepArray(2000) } })), ErrorCodes.INVALID_METADATA)).toBe(true);
    expect(await db.listScans()).toEqual(['s']);
    await scan.setMetadata('deep', deepArray(MAX_JSON_DEPTH - 1));
    expect(await scan.getMetadata('deep')).toEqual(deepArray(MAX_JSON_DEPTH - 1));
  });

  it('querying with it: ROMI_INVALID_ARGUMENT', async () => {
    const db = await dbWith(['s'], {});
    expect(isRomiError(await rejection(db.listScans({ query: { deep: deepArray(9000) } })), ErrorCodes.INVALID_ARGUMENT)).toBe(true);
  });
});
