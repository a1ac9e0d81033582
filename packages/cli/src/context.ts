/**
 * What every command gets: the streams it writes to, the global options, and the databases it
 * opened (closed by main() whatever happens, so that locks are released and S3 sockets freed).
 */
import { initDB, InvalidArgumentError, openDB, parseDatabaseUrl, RomiDB, type DB } from '@romi/db-core';
import { Output, type CliIO } from './output.js';

// The stream types live with Output (which writes to them); re-exported here for the commands.
export type { CliIO, CliStream } from './output.js';

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GlobalOptions {
  db?: string;
  json?: boolean;
  debug?: boolean;
}

/** Parameter names that name a credential, in any case (X-Amz-Signature, sessionToken, password…). */
const SECRET_NAME = /secret|token|pass|pwd|credential|sig|auth|key|session/i;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const SCHEME_SLASHES = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * A location fit to print. It is read as the URL grammar `scheme://userinfo@host/path?query#fragment`
 * reads it, but generously, since a password may hold any character, raw or percent-encoded:
 * - the user info ends at the LAST "@": a "/", "?", "#" or "@" before it is part of the password
 *   (and if a parameter named like a secret comes before that "@", so is all after it);
 * - a host that decodes to an "@" is a user info written %40, and is masked whole;
 * - the parameters start at the first "?" or "&" after the host (the user info may have taken
 *   the "?"); from a value named like a secret on, all is masked; any other value is decoded and
 *   masked as a location itself (endpoint=https%3A%2F%2Fuser%3Apass%40host);
 * - a fragment is masked whole: no location has one, and a "#" in a password starts it.
 * A plain path (no scheme) cannot hold a credential and is printed as it is.
 */
export function redactLocation(location: string): string {
  return SCHEME.test(location) ? maskUrl(location) : location;
}

function maskUrl(text: string): string {
  const start = SCHEME_SLASHES.exec(text)?.[0].length ?? 0;
  const at = text.lastIndexOf('@');
  const userInfo = at >= start ? '***@' : '';
  // A parameter named like a secret before the "@" may hold it: what follows is its value, masked too.
  if (at >= start && text.slice(start, at).split(/[?&]/).slice(1).some(isNamedSecret)) return `${text.slice(0, start)}***@***`;
  const rest = text.slice(Math.max(start, at + 1));
  const hash = rest.indexOf('#');
  const body = hash < 0 ? rest : rest.slice(0, hash);
  const fragment = hash < 0 || hash === rest.length - 1 ? rest.slice(body.length) : '#***';
  const query = body.search(/[?&]/);
  const hostPath = query < 0 ? body : body.slice(0, query);
  const host = hostPath.split('/')[0]!;
  const params = query < 0 ? '' : body[query]! + maskQuery(body.slice(query + 1));
  return text.slice(0, start) + userInfo + (decodeAll(host).includes('@') ? '***' : host) + hostPath.slice(host.length) + params + fragment;
}

/**
 * name=value&…, a part without "=" continuing the value before it (a raw "&" in it). From a
 * secret on, all is masked: a raw "&" in a secret cannot be told from the next parameter.
 */
function maskQuery(query: string): string {
  const params: string[] = [];
  for (const part of query.split('&')) {
    if (!part.includes('=') && params.length > 0) params[params.length - 1] += `&${part}`;
    else params.push(part);
  }
  const secret = params.findIndex(isSecret);
  if (secret >= 0) params.splice(secret, Infinity, `${params[secret]!.split('=')[0]}=***`);
  return params.map(maskValue).join('&');
}

function isNamedSecret(param: string): boolean {
  return param.includes('=') && SECRET_NAME.test(decodeAll(param.slice(0, param.indexOf('='))));
}

/** A value named like a secret, or a URL that a raw "&" in its password cut short ("https://user:pa"). */
function isSecret(param: string): boolean {
  if (isNamedSecret(param)) return true;
  const eq = param.indexOf('=');
  const value = decodeAll(param.slice(eq + 1));
  return eq >= 0 && SCHEME_SLASHES.test(value) && !URL.canParse(value);
}

/** Any other value is decoded and masked as a location itself (endpoint=https%3A%2F%2Fuser%3Apass%40host). */
function maskValue(param: string): string {
  const eq = param.indexOf('=');
  if (eq < 0) return param;
  const value = decodeAll(param.slice(eq + 1));
  const masked = maskUrl(value);
  return masked === value ? param : `${param.slice(0, eq + 1)}${encodeOrMask(masked)}`;
}

/** Decodes %XX escapes, a few rounds deep (double encoding), leaving malformed ones as they are. */
function decodeAll(text: string): string {
  for (let round = 0; round < 4; round++) {
    const next = text.replace(/(?:%[0-9A-Fa-f]{2})+/g, decodeRun);
    if (next === text) break;
    text = next;
  }
  return text;
}

/** A run of escapes; when it is not UTF-8, its ASCII escapes (the delimiters) still decode. */
function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    return run.replace(/%[0-7][0-9A-Fa-f]/g, (e) => String.fromCharCode(parseInt(e.slice(1), 16)));
  }
}

function encodeOrMask(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '***'; // a lone surrogate
  }
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
    return this.#keep(location, async (url) => openDB(url, { connect: false }));
  }

  /** Makes the location a database if it is not one (`created` says whether it was not). */
  async init(location: string): Promise<{ db: RomiDB; created: boolean }> {
    // The location is checked first (a usage error); a failure to create is not one.
    await this.make(location);
    const made = await initDB(parseDatabaseUrl(location), { signal: this.signal });
    return { db: this.#track(location, made.db), created: made.created };
  }

  #track(location: string, db: DB): RomiDB {
    // The commands read and write storage keys: they need a database made by romidb.
    if (!(db instanceof RomiDB)) throw new InvalidArgumentError(`${redactLocation(location)} is not a romidb database object`);
    this.#opened.push(db);
    return db;
  }

  /** Opens a location through the scheme registry; what is wrong with the location is a usage error. */
  async #keep(location: string, open: (url: URL) => Promise<DB>): Promise<RomiDB> {
    let db;
    try {
      db = await open(parseDatabaseUrl(location));
    } catch (err) {
      throw new UsageError(`invalid database location "${redactLocation(location)}": ${(err as Error).message}`);
    }
    return this.#track(location, db);
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
