// FaultyBackend forwards getStream's byte range, and a stream it cuts short ("short") breaks
// halfway through the range, not through the whole object.
import { expect, it } from 'vitest';
import { ErrorCodes, isRomiError, MapBackend, toKey } from '@romi/db-core';
import { FaultPlan, FaultyBackend } from '../src/index.js';

const MiB = 1024 * 1024;
const data = new Uint8Array(4 * MiB).map((_, i) => i % 251);

async function read(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; error?: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
  return { bytes: Buffer.concat(parts) };
}

it('passes the range of getStream to the backend it wraps', async () => {
  const raw = new MapBackend('faulty-range');
  await raw.put(toKey('x.bin'), data);
  const plan = new FaultPlan();
  const { stream, meta } = await new FaultyBackend(raw, plan).getStream(toKey('x.bin'), { range: { start: MiB + 3, end: 3 * MiB } });
  expect(meta.size).toBe(4 * MiB);
  const { bytes, error } = await read(stream);
  expect(error).toBeUndefined();
  expect(Buffer.compare(bytes, data.subarray(MiB + 3, 3 * MiB))).toBe(0);
});

it('a short read of a range breaks within the range, after at most half of it', async () => {
  const raw = new MapBackend('faulty-short-range');
  await raw.put(toKey('x.bin'), data);
  const plan = new FaultPlan();
  plan.arm(1, 'short');
  const { stream } = await new FaultyBackend(raw, plan).getStream(toKey('x.bin'), { range: { start: 0, end: 3 * MiB } });
  const { bytes, error } = await read(stream);
  expect(isRomiError(error, ErrorCodes.STORAGE)).toBe(true);
  expect(bytes.byteLength).toBeGreaterThan(0);
  expect(bytes.byteLength).toBeLessThanOrEqual(1.5 * MiB);
  expect(Buffer.compare(bytes, data.subarray(0, bytes.byteLength))).toBe(0);
});
