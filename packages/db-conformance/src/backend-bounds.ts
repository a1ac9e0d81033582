/**
 * The root: backends take Keys as `toKey` made them and do not re-check their syntax, but a
 * request never lands outside the root (a cast string such as "../x" is refused).
 */
import { describe, expect } from 'vitest';
import { ErrorCodes, InvalidKeyError, type Key } from '@romi/db-core';
import { bytes, consume, failsWith, k, storageState, type BackendHarness } from './backend-harness.js';

/** Keys that toKey refuses and that would reach outside the root if a backend followed them. */
const OUTSIDE = ['../x', 'a/../../x', '/etc/passwd', '../', 'a/../..', '../sibling/x.txt'] as Key[];

export function describeBounds(h: BackendHarness): void {
  describe('the root', () => {
    h.it('refuses keys that would leave the root with InvalidKeyError (ROMI_INVALID_KEY), for every operation, touching nothing', async () => {
      const b = h.backend();
      await b.put(k('x.txt'), bytes('x'));
      const before = await storageState(b);
      for (const key of OUTSIDE) {
        const calls: Array<() => Promise<unknown>> = [
          () => b.get(key),
          () => b.getStream(key),
          () => b.head(key),
          () => b.put(key, bytes('x')),
          () => b.put(key, bytes('x'), { ifNoneMatch: '*' }),
          () => b.delete(key),
        ];
        // As a listing prefix, a last segment is a start of names ("a/../.." names "..*" in the root).
        if (!key.endsWith('..')) calls.push(() => consume(b.list(key)), () => consume(b.list(key, { delimiter: '/' })));
        for (const call of calls) expect(await failsWith(ErrorCodes.INVALID_KEY, call), `${key}: ${String(call)}`).toBeInstanceOf(InvalidKeyError);
      }
      expect(await storageState(b)).toEqual(before);
    });
  });
}
