/**
 * The behaviour every backend shares (the public API of @romi/db-core: its src/types.ts and
 * docs/architecture.md), one set of assertions for memdb, fsdb and s3db.
 * Each test gets a fresh database from the factory; failure paths assert the error code and
 * that the raw storage is byte-for-byte unchanged. One file per area; harness.ts holds what
 * they share.
 */
import { describe } from 'vitest';
import type { ConformanceFactory, ConformanceOptions } from './context.js';
import { describeCheck } from './check.js';
import { describeConcurrency } from './concurrency.js';
import { describeFileData } from './file-data.js';
import { describeFilesetsAndFiles } from './filesets-and-files.js';
import { useHarness } from './harness.js';
import { describeIds } from './ids.js';
import { describeLifecycle } from './lifecycle.js';
import { describeMetadata } from './metadata.js';
import { describeOwnership } from './ownership.js';
import { describeQueries } from './queries.js';
import { describeScans } from './scans.js';
import { describeTraits } from './traits.js';

export function describeConformance(name: string, factory: ConformanceFactory, options: ConformanceOptions = {}): void {
  describe(`conformance: ${name}`, { timeout: options.timeout ?? 30_000 }, () => {
    const h = useHarness(factory, options);
    describeLifecycle(h);
    describeScans(h);
    describeFilesetsAndFiles(h);
    describeFileData(h);
    describeIds(h);
    describeMetadata(h);
    describeQueries(h);
    describeConcurrency(h);
    describeCheck(h);
    describeOwnership(h);
    describeTraits(h);
  });
}
