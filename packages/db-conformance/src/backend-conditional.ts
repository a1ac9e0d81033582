/**
 * Conditional puts: create-only (ifNoneMatch '*') and compare-and-swap (ifMatch), alone and in
 * races, on one backend object and between separate objects over the same storage.
 */
import { describe, expect } from 'vitest';
import { ConditionFailedError, ErrorCodes, isRomiError, type Backend } from '@romi/db-core';
import { bytes, chunks, failsWith, k, textOf, type BackendHarness } from './backend-harness.js';

const RACERS = 10;

/**
 * Each racer writes its own text with the same condition, at once: exactly one must win, every
 * other one fail with ConditionFailedError, and the stored object be the winner's, with its etag.
 */
async function race(racers: Backend[], key: string, label: string, condition: { ifNoneMatch: '*' } | { ifMatch: string }): Promise<void> {
  const settled = await Promise.allSettled(racers.map((r, i) => r.put(k(key), bytes(`${label} by ${i}`), condition)));
  const winners = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ i, etag: s.value.etag }] : []));
  expect(winners).toHaveLength(1);
  for (const s of settled) if (s.status === 'rejected') expect(isRomiError(s.reason, ErrorCodes.CONDITION_FAILED), String(s.reason)).toBe(true);
  const stored = await racers[0]!.get(k(key));
  expect(textOf(stored.bytes)).toBe(`${label} by ${winners[0]!.i}`);
  expect(stored.meta.etag).toBe(winners[0]!.etag);
}

/** Rounds of a create race then a compare-and-swap race on a fresh key. */
async function races(racers: Backend[], rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const key = `race-${round}.json`;
    await race(racers, key, 'created', { ifNoneMatch: '*' });
    const { etag } = (await racers[0]!.head(k(key)))!;
    await race(racers, key, 'swapped', { ifMatch: etag });
  }
}

export function describeConditional(h: BackendHarness): void {
  describe('conditional puts', () => {
    h.it("ifNoneMatch '*' creates once; then it fails with ConditionFailedError and the object stays", async () => {
      const b = h.backend();
      const created = await b.put(k('k.json'), bytes('1'), { ifNoneMatch: '*' });
      expect(await failsWith(ErrorCodes.CONDITION_FAILED, b.put(k('k.json'), bytes('2'), { ifNoneMatch: '*' }))).toBeInstanceOf(ConditionFailedError);
      expect(textOf((await b.get(k('k.json'))).bytes)).toBe('1');
      expect((await b.head(k('k.json')))?.etag).toBe(created.etag);
    });

    h.it('ifMatch replaces only the version it names; a stale or missing one fails with ConditionFailedError', async () => {
      const b = h.backend();
      const first = await b.put(k('k.json'), bytes('1'));
      const second = await b.put(k('k.json'), bytes('22'), { ifMatch: first.etag });
      expect(second.etag).not.toBe(first.etag);
      expect((await b.head(k('k.json')))?.etag).toBe(second.etag);
      await failsWith(ErrorCodes.CONDITION_FAILED, b.put(k('k.json'), bytes('333'), { ifMatch: first.etag }));
      expect(textOf((await b.get(k('k.json'))).bytes)).toBe('22');
      // On a missing key: nothing is created.
      await failsWith(ErrorCodes.CONDITION_FAILED, b.put(k('missing.json'), bytes('x'), { ifMatch: first.etag }));
      expect(await b.head(k('missing.json'))).toBeUndefined();
      // The etag that get returns works as well as put's.
      const read = await b.get(k('k.json'));
      await b.put(k('k.json'), bytes('4444'), { ifMatch: read.meta.etag });
      expect(textOf((await b.get(k('k.json'))).bytes)).toBe('4444');
    });

    h.it('conditions hold for streamed bodies too', async () => {
      const b = h.backend();
      const created = await b.put(k('s.bin'), chunks(3000, 1000), { ifNoneMatch: '*' });
      expect(created.size).toBe(3000);
      await failsWith(ErrorCodes.CONDITION_FAILED, b.put(k('s.bin'), chunks(3000, 1000), { ifNoneMatch: '*' }));
      const swapped = await b.put(k('s.bin'), chunks(2000, 1000), { ifMatch: created.etag });
      await failsWith(ErrorCodes.CONDITION_FAILED, b.put(k('s.bin'), chunks(1000, 1000), { ifMatch: created.etag }));
      expect(await b.head(k('s.bin'))).toMatchObject({ size: 2000, etag: swapped.etag });
    });

    h.it(`of ${RACERS} parallel create-only puts exactly one wins, and of ${RACERS} compare-and-swap puts with the same etag (one backend object)`, async () => {
      const b = h.backend();
      await races(Array<Backend>(RACERS).fill(b), 3);
    });

    // 'global' holds between every client; 'process' between every object of this process.
    h.it('the same races between separate backend objects over the same storage', async ({ skip }) => {
      const b = h.backend();
      const first = await h.reopen();
      skip(first === undefined, 'the factory makes no second object');
      const racers = [b, first!, ...(await Promise.all(Array.from({ length: RACERS - 2 }, () => h.reopen() as Promise<Backend>)))];
      await races(racers, 3);
    });
  });
}
