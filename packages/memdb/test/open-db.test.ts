// openDB through the schemes the backend packages register: file: paths and URLs, memory: names.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, openDB, RomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import '../src/index.js';

describe('openDB', () => {
  it('opens a local path, a file: URL and named memory databases', async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-open-`);
    await FSDB.init(dir);
    const a = await openDB(dir);
    expect(a.isConnected).toBe(true);
    await a.createScan('s');
    await a.disconnect();
    const b = await openDB(`file://${dir}`, { readOnly: true });
    expect(await b.listScans()).toEqual(['s']);
    await b.disconnect();

    const m1 = await openDB('memory://shared');
    await m1.createScan('in_memory');
    await m1.disconnect();
    const m2 = await openDB('memory://shared', { readOnly: true });
    expect(await m2.listScans()).toEqual(['in_memory']);
    const m3 = await openDB('memory://other', { connect: false });
    await m3.connect();
    expect(await m3.listScans()).toEqual([]);
  });

  it('refuses malformed URLs and unknown schemes with typed errors', async () => {
    expect((await openDB('').catch((e: RomiError) => e.code))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await openDB('memory://[bad').catch((e: RomiError) => e.code))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await openDB('ftp://host/db').catch((e: RomiError) => e.code))).toBe(ErrorCodes.NOT_SUPPORTED);
    expect((await openDB('/definitely/not/a/db').catch((e: RomiError) => e.code))).toBe(ErrorCodes.NOT_A_DATABASE);
  });
});
