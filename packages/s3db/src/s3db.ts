import { ErrorCodes, InvalidArgumentError, isRomiError, LOCK_NAME, MARKER_KEY, RomiDB, type ConnectOptions, type RomiDBOptions } from '@romi/db-core';
import { S3Backend, type S3BackendOptions } from './s3-backend.js';

export interface S3DBOptions extends RomiDBOptions, S3BackendOptions {}

/** Query parameters an s3:// URL may carry (never credentials). */
const URL_PARAMS = new Set(['endpoint', 'region', 'forcePathStyle', 'leaseMs']);
const SECRET_PARAMS = /secret|token|password|passwd|credential|signature|accesskey|access_key|^key$/i;

/**
 * Options from `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true`. Credentials are
 * never taken from a URL (refused with ROMI_INVALID_ARGUMENT): they come from the options or
 * from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles).
 */
export function parseS3Url(location: string | URL): S3DBOptions {
  let url: URL;
  try {
    url = location instanceof URL ? location : new URL(location);
  } catch {
    throw new InvalidArgumentError('Malformed s3:// URL (expected s3://bucket/prefix?endpoint=…)');
  }
  if (url.protocol !== 's3:') throw new InvalidArgumentError(`Not an s3:// URL: "${url.protocol}"`);
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('s3:// URLs must not contain credentials; pass them as options or through the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles)');
  }
  const bucket = decodeURIComponent(url.hostname);
  if (bucket === '') throw new InvalidArgumentError('An s3:// URL names a bucket: s3://bucket/prefix');
  const opts: S3DBOptions = { bucket };
  const path = url.pathname.replace(/^\/+|\/+$/g, '');
  if (path !== '') opts.prefix = path.split('/').map((s) => decodeURIComponent(s)).join('/');
  for (const [name, value] of url.searchParams) {
    if (SECRET_PARAMS.test(name)) {
      throw new InvalidArgumentError(`s3:// URLs must not carry credentials ("${name}" refused); pass them as options or through the AWS environment`);
    }
    if (!URL_PARAMS.has(name)) throw new InvalidArgumentError(`Unknown s3:// URL parameter "${name}" (known: ${[...URL_PARAMS].join(', ')})`);
    if (name === 'endpoint') opts.endpoint = value;
    else if (name === 'region') opts.region = value;
    else if (name === 'forcePathStyle') {
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
