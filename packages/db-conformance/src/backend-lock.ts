/** The lock a writer takes: exclusive, waitable, abortable, inspectable, forcible. */
import { describe, expect } from 'vitest';
import { DBBusyError, ErrorCodes, type Backend } from '@romi/db-core';
import { failsWith, type BackendHarness } from './backend-harness.js';

const NAME = 'lock';

/** What inspectLock says of a lock held by a live romidb holder, when the backend can tell. */
async function expectHeld(b: Backend): Promise<void> {
  if (!b.inspectLock) return;
  const info = await b.inspectLock(NAME);
  expect(info).toBeDefined();
  expect(info!.stale).toBeFalsy();
  expect(info!.foreign).toBeFalsy();
}

async function expectFree(b: Backend): Promise<void> {
  if (b.inspectLock) expect(await b.inspectLock(NAME)).toBeUndefined();
}

export function describeLock(h: BackendHarness): void {
  describe('lock', () => {
    h.it('is exclusive: a second lock fails with DBBusyError (ROMI_DB_BUSY) while held, and succeeds once released', async () => {
      const b = h.backend();
      await expectFree(b);
      const held = await b.lock(NAME);
      held.assertHeld();
      await expectHeld(b);
      expect(await failsWith(ErrorCodes.DB_BUSY, b.lock(NAME))).toBeInstanceOf(DBBusyError);
      await held.release();
      await expectFree(b);
      const again = await b.lock(NAME);
      again.assertHeld();
      await again.release();
    });

    h.it('waits up to waitMs for the holder to release it', async () => {
      const b = h.backend();
      const held = await b.lock(NAME);
      const released = new Promise((resolve) => setTimeout(resolve, 300)).then(() => held.release());
      const t0 = Date.now();
      const next = await b.lock(NAME, { waitMs: 10_000 });
      expect(Date.now() - t0).toBeLessThan(8_000);
      await released;
      await next.release();
    });

    h.it('an abort ends a wait with ROMI_ABORTED; an aborted signal takes nothing', async () => {
      const b = h.backend();
      await failsWith(ErrorCodes.ABORTED, b.lock(NAME, { signal: AbortSignal.abort() }));
      await expectFree(b);
      const held = await b.lock(NAME);
      const t0 = Date.now();
      await failsWith(ErrorCodes.ABORTED, b.lock(NAME, { waitMs: 20_000, signal: AbortSignal.timeout(200) }));
      expect(Date.now() - t0).toBeLessThan(5_000);
      await expectHeld(b);
      await held.release();
    });

    h.it('a lock held through one backend object makes another over the same storage busy', async ({ skip }) => {
      const b = h.backend();
      const other = await h.reopen();
      skip(other === undefined, 'the factory makes no second object');
      const held = await b.lock(NAME);
      await failsWith(ErrorCodes.DB_BUSY, other!.lock(NAME));
      await expectHeld(other!);
      await held.release();
      await (await other!.lock(NAME)).release();
    });

    h.it('forceUnlock clears a lock whoever holds it', async ({ skip }) => {
      const b = h.backend();
      skip(!b.forceUnlock, 'this backend has no forceUnlock');
      const held = await b.lock(NAME);
      await b.forceUnlock!(NAME);
      await expectFree(b);
      const next = await b.lock(NAME);
      await next.release();
      // The first holder's handle may report its loss now; releasing it must not take the lock from anyone.
      await held.release().catch(() => {});
      await expectFree(b);
    });
  });
}
