// The change journal (changes.ts) between servers on one backend: each sees the scans the other
// wrote, once; a server that missed more writes than the journal keeps forgets everything; a
// journal damaged by hand neither stops reads nor writes; a look waits for one started after it.
import { describe, expect, it } from 'vitest';
import { toKey } from '@romi/db-core';
import { MemDB } from '@romi/memdb';
import { ChangeJournal } from '../src/changes.js';

function journal(backend: MemDB['backend']) {
  const forgotten: Array<string | undefined> = [];
  const errors: unknown[] = [];
  const j = new ChangeJournal(backend, { forget: async (id) => void forgotten.push(id), onError: (err) => errors.push(err) });
  return { j, forgotten, errors };
}

describe('ChangeJournal', () => {
  it('tells another server which scans were written, once each', async () => {
    const { backend } = new MemDB();
    const a = journal(backend);
    const b = journal(backend);
    await a.j.start();
    await b.j.start();
    await b.j.sync();
    expect(b.forgotten).toEqual([]);
    await a.j.record('s1');
    await a.j.record('s2');
    await a.j.record('s1');
    await b.j.sync();
    expect(b.forgotten.sort()).toEqual(['s1', 's2']);
    await b.j.sync();
    expect(b.forgotten).toHaveLength(2);
  });

  it('a server that missed more writes than are kept forgets everything', async () => {
    const { backend } = new MemDB();
    const a = journal(backend);
    const b = journal(backend);
    await b.j.start();
    for (let i = 0; i < 520; i++) await a.j.record(`s${i % 3}`);
    await b.j.sync();
    expect(b.forgotten).toEqual([undefined]);
  });

  it('a journal that is not JSON: reads go on, the next write replaces it', async () => {
    const { backend } = new MemDB();
    await backend.put(toKey('.romidb-changes.json'), new TextEncoder().encode('{not json'));
    const a = journal(backend);
    const b = journal(backend);
    await a.j.start();
    await b.j.start();
    await b.j.sync();
    await a.j.record('s1');
    expect(a.errors).toEqual([]);
    await b.j.sync();
    expect(b.forgotten).toEqual(['s1']);
  });

  it('calls made while a look is under way share the next one, which sees what was written before them', async () => {
    const { backend } = new MemDB();
    const a = journal(backend);
    const b = journal(backend);
    await b.j.start();
    await a.j.record('early');
    const first = b.j.sync();
    const second = b.j.sync();
    const third = b.j.sync();
    expect(second).not.toBe(first);
    expect(third).toBe(second);
    await Promise.all([first, second]);
    expect(b.forgotten).toEqual(['early']);
  });
});
