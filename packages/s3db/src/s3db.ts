import { ErrorCodes, InvalidArgumentError, isRomiError, LOCK_NAME, MARKER_KEY, RomiDB, type ConnectOptions, type RomiDBOptions } from '@romi/db-core';
import { decodeAll, S3Backend, type S3BackendOptions } from './s3-backend.js';

export interface S3DBOptions extends RomiDBOptions, S3BackendOptions {}

/** Query parameters an s3:// URL may carry (never credentials). */
const URL_PARAMS = new Set(['endpoint', 'region', 'forcePathStyle', 'leaseMs']);
/** Parameter names that name a credential, in any case (X-Amz-Signature, sessionToken, password…). */
const SECRET_PARAMS = /secret|token|pass|pwd|credential|sig|auth|key|session/i;
const USE_THE_ENVIRONMENT = 'pass them as options or through the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles)';

/** decodeURIComponent, with a typed error that does not repeat the text. */
function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InvalidArgumentError(`Malformed percent-encoding in the ${what} of an s3:// URL ("%" itself is written %25)`);
  }
}

/** A parameter name as errors quote it: only a plain word, which cannot be a piece of a password. */
function quoted(name: string): string {
  return /^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(name) ? ` "${name}"` : '';
}

/**
 * Refuses an endpoint that could hold a credential, without repeating it. An S3 endpoint is
 * http(s)://host[:port][/path]: an "@", "?" or "#", raw or percent-encoded, can only be a user
 * info or a password cut short, whatever a URL parser makes of it ("https://user:1/pass@host"
 * parses as host "user", port 1, path "/pass@host"); so is a URL that does not parse
 * ("https://user:pa", cut by a raw "&" in an s3:// URL).
 */
function checkEndpointSecrets(endpoint: unknown): void {
  if (endpoint === undefined) return;
  if (typeof endpoint !== 'string' || !URL.canParse(endpoint)) {
    throw new InvalidArgumentError('The S3 endpoint is not a valid URL (expected e.g. "https://s3.example.org" or "http://127.0.0.1:7480")');
  }
  if (/[@?#]/.test(decodeAll(endpoint))) {
    throw new InvalidArgumentError(`The S3 endpoint is scheme://host[:port][/path], with no credentials ("@"), query or fragment; ${USE_THE_ENVIRONMENT}`);
  }
}

/**
 * Refuses, before anything else is read and without repeating it, whatever in an s3:// URL
 * could be a credential. A password may hold "/", "?", "#" and "@", so where the URL parser
 * ends the user info proves nothing: any "@" (a user info ends at the last one; write "@" in a
 * prefix as %40), a port (what "user:123/pass@bucket" parses into), a fragment (what a "#" in a
 * password starts), a parameter named like a secret, or an endpoint holding any of these.
 */
function refuseCredentials(text: string, url: URL): void {
  if (/[@#]/.test(text) || url.port !== '') {
    throw new InvalidArgumentError(`s3:// URLs hold no credentials, port or fragment (an "@" or "#" in a prefix is written %40 or %23); ${USE_THE_ENVIRONMENT}`);
  }
  for (const [name, value] of url.searchParams) {
    if (SECRET_PARAMS.test(name)) throw new InvalidArgumentError(`s3:// URLs must not carry credentials (parameter${quoted(name)} refused); ${USE_THE_ENVIRONMENT}`);
    if (name === 'endpoint') checkEndpointSecrets(value);
  }
}

/**
 * Options from `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true`. Credentials are
 * never taken from a URL (refused with ROMI_INVALID_ARGUMENT): they come from the options or
 * from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles).
 * No error repeats a part of the URL that could hold a secret.
 */
export function parseS3Url(location: string | URL): S3DBOptions {
  let url: URL;
  try {
    url = location instanceof URL ? location : new URL(location);
  } catch {
    throw new InvalidArgumentError('Malformed s3:// URL (expected s3://bucket/prefix?endpoint=…)');
  }
  if (url.protocol !== 's3:') throw new InvalidArgumentError(`Not an s3:// URL: "${url.protocol}"`);
  refuseCredentials(location instanceof URL ? location.href : location, url);
  const bucket = decodeComponent(url.hostname, 'bucket');
  if (bucket === '') throw new InvalidArgumentError('An s3:// URL names a bucket: s3://bucket/prefix');
  // Checked here, unquoted: a bucket holding other characters may be a user info written %40.
  if (!/^[A-Za-z0-9._-]+$/.test(bucket)) throw new InvalidArgumentError('An S3 bucket name holds only letters, digits, ".", "-" and "_"');
  const opts: S3DBOptions = { bucket };
  const path = url.pathname.replace(/^\/+|\/+$/g, '');
  if (path !== '') opts.prefix = path.split('/').map((s) => decodeComponent(s, 'prefix')).join('/');
  for (const [name, value] of url.searchParams) {
    if (!URL_PARAMS.has(name)) throw new InvalidArgumentError(`Unknown s3:// URL parameter${quoted(name)} (known: ${[...URL_PARAMS].join(', ')})`);
    if (name === 'endpoint') opts.endpoint = value;
    else if (name === 'region') {
      if (!/^[A-Za-z0-9._-]+$/.test(value)) throw new InvalidArgumentError('region holds only letters, digits, ".", "-" and "_"');
      opts.region = value;
    } else if (name === 'forcePathStyle') {
      if (!['true', 'false', '1', '0', ''].includes(value)) throw new InvalidArgumentError('forcePathStyle takes true or false');
      opts.forcePathStyle = value === 'true' || value === '1' || value === '';
    } else if (name === 'leaseMs') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 300) throw new InvalidArgumentError('leaseMs takes a whole number of milliseconds, at least 300');
      opts.leaseMs = n;
    }
  }
  return opts;
}

/** A romidb database in an S3 bucket (under an optional key prefix) holding the `romidb` marker. */
export class S3DB extends RomiDB {
  declare readonly backend: S3Backend;
  readonly bucket: string;
  readonly prefix: string;

  constructor(opts: S3DBOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('S3DB needs options: { bucket, prefix?, endpoint?, region?, credentials?, forcePathStyle? }');
    // Before the backend, whose url (printed in every error) repeats the endpoint.
    checkEndpointSecrets(opts.endpoint);
    // The lease length follows lockStaleMs when only that is given (both mean "how long a silent writer keeps the lock").
    const backend = new S3Backend({ ...opts, leaseMs: opts.leaseMs ?? opts.lockStaleMs });
    // Listing and querying scans is one request per scan: round trips, not bandwidth, bound it.
    super(backend, { ...opts, concurrency: opts.concurrency ?? 48 });
    this.bucket = backend.bucket;
    this.prefix = backend.prefix;
  }

  /** Writes the `romidb` marker under the prefix if absent (nothing else); the bucket must exist. */
  static async init(opts: S3DBOptions & { signal?: AbortSignal }): Promise<S3DB> {
    const db = new S3DB(opts);
    await db.backend.writeMarker(MARKER_KEY, { signal: opts.signal });
    return db;
  }

  /** Removes the writer lease whoever holds it. Use with care: only once no writer runs. */
  static async forceUnlock(opts: S3DBOptions): Promise<void> {
    checkEndpointSecrets(opts?.endpoint);
    const backend = new S3Backend(opts);
    try {
      await backend.forceUnlock(LOCK_NAME);
    } finally {
      await backend.close();
    }
  }

  override async connect(opts: ConnectOptions = {}): Promise<void> {
    try {
      await super.connect(opts);
    } catch (err) {
      // HEAD cannot tell a missing bucket from a missing marker: say which it is.
      if (isRomiError(err, ErrorCodes.NOT_A_DATABASE)) {
        const problem = await this.backend.bucketProblem({ signal: opts.signal });
        if (problem) throw problem;
      }
      throw err;
    }
  }

  /** Frees the HTTP connections of the client this database made (after disconnecting). */
  async close(): Promise<void> {
    await this.disconnect();
    await this.backend.close();
  }
}
