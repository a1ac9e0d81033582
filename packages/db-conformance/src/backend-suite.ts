/**
 * The Backend contract (db-core's backend.ts), one set of assertions for every backend: each test
 * gets a fresh, empty Backend from the factory. Tests that need a capability or an optional
 * method read it from the backend and are skipped, with the reason, where it is missing.
 */
import { describe } from 'vitest';
import { describeAbort } from './backend-abort.js';
import { describeBounds } from './backend-bounds.js';
import { describeCapabilities } from './backend-capabilities.js';
import { describeConditional } from './backend-conditional.js';
import { describeDelete } from './backend-delete.js';
import { useBackendHarness, type BackendFactory, type BackendSuiteOptions } from './backend-harness.js';
export type { BackendContext, BackendFactory, BackendSuiteOptions } from './backend-harness.js';
import { describeListing } from './backend-listing.js';
import { describeLock } from './backend-lock.js';
import { describeObjects } from './backend-objects.js';
import { describeRanges } from './backend-ranges.js';
import { describeStreams } from './backend-streams.js';

export function describeBackend(name: string, factory: BackendFactory, options: BackendSuiteOptions = {}): void {
  describe(`backend: ${name}`, { timeout: options.timeout ?? 30_000 }, () => {
    const h = useBackendHarness(factory, options);
    describeObjects(h);
    describeStreams(h);
    describeRanges(h);
    describeConditional(h);
    describeListing(h);
    describeDelete(h);
    describeAbort(h);
    describeBounds(h);
    describeLock(h);
    describeCapabilities(h);
  });
}
