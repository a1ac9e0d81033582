/**
 * openDB(url): one entry point for every backend. Schemes are registered lazily: a
 * backend package registers its scheme when imported, and openDB imports the package
 * for a known scheme on first use, so nothing is loaded that is not used.
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, NotSupportedError } from './errors.js';
import type { DB } from './types.js';

export interface OpenOptions {
  /** Connect before returning (default true). */
  connect?: boolean;
  readOnly?: boolean;
  waitMs?: number;
  signal?: AbortSignal;
}

/** Makes a (not yet connected) DB for a URL of this scheme. */
export type SchemeOpener = (url: URL) => DB | Promise<DB>;

const openers = new Map<string, SchemeOpener>();
const packages = new Map<string, string>([
  ['file:', '@romi/fsdb'],
  ['memory:', '@romi/memdb'],
  ['s3:', '@romi/s3db'],
]);

/** Registers (or replaces) the opener of a URL scheme such as 'file:'. */
export function registerScheme(scheme: string, opener: SchemeOpener): void {
  openers.set(scheme.endsWith(':') ? scheme : `${scheme}:`, opener);
}

/**
 * Parses a database location: a URL, or a plain local path (made absolute). The errors never
 * repeat the location, which may hold a password; only its scheme.
 */
export function parseDatabaseUrl(location: string): URL {
  if (typeof location !== 'string' || location.length === 0) throw new InvalidArgumentError('A database location is a non-empty URL or path');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(location) || /^(memory|s3|file):/.test(location)) {
    const scheme = location.slice(0, location.indexOf(':') + 1);
    // Backends decode components later: a bad escape is refused here, typed, rather than as a URIError there.
    try {
      decodeURIComponent(location);
    } catch {
      throw new InvalidArgumentError(`Malformed percent-encoding in the ${scheme} URL: a "%" starts two hex digits, and the escapes decode as UTF-8 ("%" itself is written %25)`);
    }
    try {
      return new URL(location);
    } catch {
      throw new InvalidArgumentError(`Malformed ${scheme} URL`);
    }
  }
  return pathToFileURL(location);
}

export async function openDB(location: string | URL, opts: OpenOptions = {}): Promise<DB> {
  const url = location instanceof URL ? location : parseDatabaseUrl(location);
  let opener = openers.get(url.protocol);
  if (!opener) {
    const pkg = packages.get(url.protocol);
    if (!pkg) throw new NotSupportedError(`No backend for "${url.protocol}" URLs (known: ${[...new Set([...openers.keys(), ...packages.keys()])].join(', ')})`);
    try {
      await import(pkg);
    } catch (err) {
      throw new NotSupportedError(`"${url.protocol}" URLs need the package ${pkg}; install it, or import it once before openDB() (${(err as Error).message})`);
    }
    opener = openers.get(url.protocol);
    if (!opener) throw new NotSupportedError(`${pkg} did not register the "${url.protocol}" scheme`);
  }
  const db = await opener(url);
  if (opts.connect ?? true) await db.connect({ readOnly: opts.readOnly, waitMs: opts.waitMs, signal: opts.signal });
  return db;
}
