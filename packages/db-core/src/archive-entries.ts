/**
 * What an archive may hold before anything of it is written: the entry-name rules and size
 * limits shared by the CLI's tar import and the server's ZIP import, so that both refuse the
 * same names (absolute, "..", reserved, not a key) and bound the same expansion.
 */
import { keyProblem } from './key.js';
import { INTERNAL_PREFIX } from './layout.js';

/** Bounds on what an archive may write (defaults no real scan reaches; options raise them). */
export interface ImportLimits {
  /** Total bytes of the entries (default 1 TiB). */
  maxBytes: number;
  /** Total bytes of the entries per byte of the archive file, above 64 MiB in all (default 200). */
  maxRatio: number;
  /** Bytes of one files.json or metadata JSON entry, which are read whole (default 256 MiB). */
  maxJsonBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 2 ** 40, maxRatio: 200, maxJsonBytes: 256 << 20 };

/** Archives expanding to less than this are never refused for their ratio (tiny archives compress well). */
const RATIO_FLOOR = 64 << 20;

/** The most bytes an archive of `archiveSize` bytes may expand to under `limits`. */
export function importCap(limits: ImportLimits, archiveSize: number): number {
  return Math.min(limits.maxBytes, Math.max(RATIO_FLOOR, limits.maxRatio * archiveSize));
}

/** An archive entry's name as a key: "./" prefixes removed, folders without their trailing "/". */
export function archiveEntryPath(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}

const utf8 = new TextEncoder();

/**
 * Why an entry named `name` (a folder when `folder`) cannot be imported, or undefined. Checked
 * before any prefix is removed; the entry's type (only files and folders) is the caller's to check.
 */
export function archiveEntryProblem(name: string, folder: boolean): string | undefined {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  const path = archiveEntryPath(name);
  if (path === '') return undefined;
  const segments = path.split('/');
  if (segments.some((s) => s === '..')) return 'a ".." segment';
  if (segments.some((s) => s.startsWith(INTERNAL_PREFIX))) return `a "${INTERNAL_PREFIX}" name (reserved for temporary files)`;
  if (segments.some((s) => utf8.encode(s).byteLength > 255)) return 'a name longer than 255 bytes (too long for a file system)';
  const problem = keyProblem(folder ? `${path}/` : path);
  return problem === undefined ? undefined : `not a valid key (${problem})`;
}
