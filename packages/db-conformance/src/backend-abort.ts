/** Abort signals: ROMI_ABORTED, and storage unchanged (or the old object intact). */
import { describe, expect } from 'vitest';
import { AbortedError, ErrorCodes } from '@romi/db-core';
import { bytes, chunks, consume, drain, failsWith, filled, k, storageState, textOf, type BackendHarness } from './backend-harness.js';

const MiB = 1024 * 1024;

export function describeAbort(h: BackendHarness): void {
  describe('abort', () => {
    h.it('a signal aborted before the call fails every operation with AbortedError (ROMI_ABORTED) and writes nothing', async () => {
      const b = h.backend();
      await b.put(k('x.txt'), bytes('x'));
      await b.put(k('f/y.txt'), bytes('y'));
      const before = await storageState(b);
      const signal = AbortSignal.abort();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => b.get(k('x.txt'), { signal })],
        ['getStream', () => b.getStream(k('x.txt'), { signal })],
        ['head', () => b.head(k('x.txt'), { signal })],
        ['put', () => b.put(k('new.txt'), bytes('new'), { signal })],
        ['put over', () => b.put(k('x.txt'), bytes('over'), { signal })],
        ['put of a stream', () => b.put(k('new.bin'), chunks(3000, 1000), { signal })],
        ['create-only put', () => b.put(k('new.txt'), bytes('new'), { ifNoneMatch: '*', signal })],
        ['delete', () => b.delete(k('x.txt'), { signal })],
        ['folder delete', () => b.delete(k('f/'), { signal })],
        ['list', () => consume(b.list('', { signal }))],
        ['one-level list', () => consume(b.list('', { delimiter: '/', signal }))],
      ];
      for (const [label, call] of calls) {
        const err = await failsWith(ErrorCodes.ABORTED, call);
        expect(err, label).toBeInstanceOf(AbortedError);
      }
      expect(await storageState(b)).toEqual(before);
    });

    h.it('aborting a large streamed put midway fails it with ROMI_ABORTED; the old object stays, nothing else is left', async () => {
      const b = h.backend();
      await b.put(k('big.bin'), bytes('old'));
      const before = await storageState(b);
      const controller = new AbortController();
      async function* body(): AsyncIterable<Uint8Array> {
        for (let i = 0; i < 12; i++) {
          if (i === 3) controller.abort();
          yield filled(MiB, i);
        }
      }
      await failsWith(ErrorCodes.ABORTED, b.put(k('big.bin'), body(), { signal: controller.signal }));
      expect(textOf((await b.get(k('big.bin'))).bytes)).toBe('old');
      expect(await storageState(b)).toEqual(before);
    });

    h.it('aborting while a stream is read fails the stream with ROMI_ABORTED', async () => {
      const b = h.backend();
      await b.put(k('big.bin'), filled(4 * MiB, 7));
      const controller = new AbortController();
      const { stream } = await b.getStream(k('big.bin'), { signal: controller.signal });
      const reader = stream.getReader();
      await reader.read();
      controller.abort();
      await failsWith(ErrorCodes.ABORTED, async () => {
        for (;;) if ((await reader.read()).done) return;
      });
      // The object itself is untouched.
      expect((await drain((await b.getStream(k('big.bin'))).stream)).data.byteLength).toBe(4 * MiB);
    });
  });
}
