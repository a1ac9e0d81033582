/**
 * What every command gets: the streams it writes to, the global options, and the databases it
 * opened (closed by main() whatever happens, so that locks are released and S3 sockets freed).
 */
import { parseDatabaseUrl, openDB, RomiDB, InvalidArgumentError } from '@romi/db-core';
import { Output } from './output.js';

export interface CliStream {
  write(chunk: string | Uint8Array): boolean;
  once(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  /** Environment (ROMIDB, AWS_*); defaults to process.env. */
  env: Record<string, string | undefined>;
  /** Aborts long commands (SIGINT in the binary). */
  signal?: AbortSignal;
}

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GlobalOptions {
  db?: string;
  json?: boolean;
  debug?: boolean;
}

const SECRET_NAME = /secret|token|password|passwd|credential|signature|key/i;

/** A location fit to print: credentials a user put in it by mistake are masked. */
export function redactLocation(location: string): string {
  const maskUserInfo = (text: string) => text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1***@');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    // Unparseable: keep what cannot hold a secret (no user info, no query).
    return maskUserInfo(location).replace(/\?.*$/, '?…');
  }
  let changed = false;
  if (url.username || url.password) {
    url.username = '***';
    url.password = '';
    changed = true;
  }
  for (const [name, value] of [...url.searchParams]) {
    const masked = SECRET_NAME.test(name) ? '***' : maskUserInfo(value);
    if (masked !== value) {
      url.searchParams.set(name, masked);
      changed = true;
    }
  }
  return changed ? url.toString() : location;
}

/** Loads the backend package of a scheme, which registers it with openDB (core cannot import backends). */
async function loadScheme(protocol: string): Promise<void> {
  if (protocol === 'file:') await import('@romi/fsdb');
  else if (protocol === 'memory:') await import('@romi/memdb');
  else if (protocol === 's3:') await import('@romi/s3db');
}

export class Context {
  readonly io: CliIO;
  readonly #globals: () => GlobalOptions;
  readonly #opened: RomiDB[] = [];
  /** Set by commands that finish without an error but must fail (check finding problems). */
  exitCode = 0;

  constructor(io: CliIO, globals: () => GlobalOptions) {
    this.io = io;
    this.#globals = globals;
  }

  get globals(): GlobalOptions {
    return this.#globals();
  }

  get out(): Output {
    return new Output(this.io, !!this.globals.json);
  }

  get signal(): AbortSignal | undefined {
    return this.io.signal;
  }

  /** The database named by --db or $ROMIDB. */
  location(): string {
    const loc = this.globals.db ?? this.io.env.ROMIDB;
    if (!loc) throw new UsageError('no database: pass --db <path or URL> or set ROMIDB');
    return loc;
  }

  /**
   * A database object for a location, not connected. Anything wrong with the location itself
   * (malformed URL, unknown scheme, bad s3:// parameter) is a usage error.
   */
  async make(location: string): Promise<RomiDB> {
    let db;
    try {
      const url = parseDatabaseUrl(location);
      await loadScheme(url.protocol);
      db = await openDB(url, { connect: false });
    } catch (err) {
      throw new UsageError(`invalid database location "${redactLocation(location)}": ${(err as Error).message}`);
    }
    if (!(db instanceof RomiDB)) throw new InvalidArgumentError(`${location} is not a romidb database object`);
    this.#opened.push(db);
    return db;
  }

  /** Opens and connects the database (read-only unless asked otherwise: no lock needed). */
  async open(opts: { write?: boolean; location?: string } = {}): Promise<RomiDB> {
    const db = await this.make(opts.location ?? this.location());
    await db.connect({ readOnly: !opts.write, signal: this.signal });
    return db;
  }

  async closeAll(): Promise<void> {
    for (const db of this.#opened.splice(0)) {
      await db.disconnect().catch(() => {});
      const closable = db as RomiDB & { close?: () => Promise<void> };
      await (closable.close ? closable.close() : db.backend.close?.())?.catch(() => {});
    }
  }
}
