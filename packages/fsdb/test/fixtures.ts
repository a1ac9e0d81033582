/**
 * Helpers for the tests on real databases (test-fixtures/realdata, see its PROVENANCE.md).
 * A test never opens the fixture folders themselves: it works on a fresh copy in a temp dir.
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isRomiError } from '@romi/db-core';

const REALDATA = fileURLToPath(new URL('../../../test-fixtures/realdata/', import.meta.url));

export type RealDB = 'plant-3d-vision-db' | 'plant-imager-db';

export const fixturePath = (db: RealDB, rel = ''): string => `${REALDATA}${db}${rel === '' ? '' : `/${rel}`}`;
export const goldenPath = (kind: 'writes' | 'fix', db: RealDB, rel: string): string => `${REALDATA}golden/${kind}/${db}/${rel}`;

/** Copies a fixture database into a new temp folder; `dispose()` removes it. */
export async function copyFixture(db: RealDB): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(`${tmpdir()}/romidb-interop-`);
  await cp(fixturePath(db), dir, { recursive: true });
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Every regular file under `root` (relative POSIX paths, sorted) with its bytes. */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(rel === '' ? root : `${root}/${rel}`, { withFileTypes: true });
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else out.set(path, await readFile(`${root}/${path}`));
    }
  };
  await walk('');
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every folder under `root` (relative POSIX paths, sorted), empty ones included. */
export async function readFolders(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(rel === '' ? root : `${root}/${rel}`, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      out.push(path);
      await walk(path);
    }
  };
  await walk('');
  return out.sort();
}

/** The `code` of a RomiError thrown by `p`, another text when it throws something else, 'resolved' when it does not throw. */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return isRomiError(err) ? err.code : `not a RomiError: ${String(err)}`;
  }
  return 'resolved';
}

export async function readStreamBytes(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export const text = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(b);
