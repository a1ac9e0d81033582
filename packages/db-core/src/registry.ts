/**
 * The scheme registry: openDB(url) and initDB(url) for every backend. A backend package
 * registers its scheme ({ open, init }) when imported; openDB and initDB import the package
 * of a known scheme on first use (file: @romi/fsdb, memory: @romi/memdb, s3: @romi/s3db), so
 * nothing is loaded that is not used.
 */
import { InvalidArgumentError, NotSupportedError } from './errors.js';
import type { DB, SignalOptions } from './types.js';

export interface OpenOptions {
  /** Connect before returning (default true). */
  connect?: boolean;
  readOnly?: boolean;
  waitMs?: number;
  signal?: AbortSignal;
}

/** Makes a (not yet connected) DB for a URL of this scheme. */
export type SchemeOpener = (url: URL) => DB | Promise<DB>;

export interface SchemeHandler {
  /** A database object for the URL, not connected. */
  open: SchemeOpener;
  /**
   * Makes the location a database (its `romidb` marker) if it is not one yet; the database is
   * returned not connected, `created` says whether the marker was written now.
   */
  init?(url: URL, opts?: SignalOptions): Promise<{ db: DB; created: boolean }>;
}

const handlers = new Map<string, SchemeHandler>();
/** The packages that register the schemes romidb ships, imported on first use. */
const packages = new Map<string, string>([
  ['file:', '@romi/fsdb'],
  ['memory:', '@romi/memdb'],
  ['s3:', '@romi/s3db'],
]);

/** Registers (or replaces) the handler of a URL scheme such as 'file:' (an opener alone is enough). */
export function registerScheme(scheme: string, handler: SchemeHandler | SchemeOpener): void {
  handlers.set(scheme.endsWith(':') ? scheme : `${scheme}:`, typeof handler === 'function' ? { open: handler } : handler);
}

/** The handler of a URL's scheme, importing the package that registers it when it is known. */
async function handlerOf(url: URL): Promise<SchemeHandler> {
  let handler = handlers.get(url.protocol);
  if (!handler) {
    const pkg = packages.get(url.protocol);
    if (!pkg) throw new NotSupportedError(`No backend for "${url.protocol}" URLs (known: ${[...new Set([...handlers.keys(), ...packages.keys()])].join(', ')})`);
    try {
      await import(pkg);
    } catch (err) {
      throw new NotSupportedError(`"${url.protocol}" URLs need the package ${pkg}; install it, or import it once before openDB() (${(err as Error).message})`);
    }
    handler = handlers.get(url.protocol);
    if (!handler) throw new NotSupportedError(`${pkg} did not register the "${url.protocol}" scheme`);
  }
  return handler;
}

/** A local path as a file: URL (relative paths against the current folder, where there is one). */
function pathToFileUrl(path: string): URL {
  let absolute = path;
  if (!path.startsWith('/')) {
    const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
    if (cwd === undefined) throw new InvalidArgumentError('A relative database path needs a current folder; give a URL');
    absolute = `${cwd.replace(/\/$/, '')}/${path}`;
  }
  return new URL(`file://${absolute.split('/').map(encodeURIComponent).join('/')}`);
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
  return pathToFileUrl(location);
}

export async function openDB(location: string | URL, opts: OpenOptions = {}): Promise<DB> {
  const url = location instanceof URL ? location : parseDatabaseUrl(location);
  const db = await (await handlerOf(url)).open(url);
  if (opts.connect ?? true) await db.connect({ readOnly: opts.readOnly, waitMs: opts.waitMs, signal: opts.signal });
  return db;
}

/**
 * Makes the location a database if it is not one yet (a folder is created, an S3 bucket must
 * exist), and returns it, not connected; `created` says whether the marker was written now.
 */
export async function initDB(location: string | URL, opts: SignalOptions = {}): Promise<{ db: DB; created: boolean }> {
  const url = location instanceof URL ? location : parseDatabaseUrl(location);
  const handler = await handlerOf(url);
  if (!handler.init) throw new NotSupportedError(`"${url.protocol}" databases cannot be created through initDB()`);
  return handler.init(url, opts);
}
