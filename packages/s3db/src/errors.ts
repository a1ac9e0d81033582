/**
 * Maps AWS SDK failures to the core's typed errors, and makes sure no credential ever
 * leaves this package inside an error: the SDK's own error objects carry the raw HTTP
 * response (headers, body) and fields such as `AWSAccessKeyId`, so they are never used as
 * a `cause`; a small sanitised copy is attached instead.
 */
import { AbortedError, isRomiError, KeyNotFoundError, StorageError } from '@romi/db-core';

/** What we keep of an SDK error: nothing that can hold a credential or a request. */
export class S3ErrorInfo extends Error {
  readonly s3Code?: string;
  readonly httpStatus?: number;
  readonly requestId?: string;

  constructor(message: string, info: { name: string; s3Code?: string; httpStatus?: number; requestId?: string }) {
    super(message);
    this.name = info.name;
    if (info.s3Code !== undefined) this.s3Code = info.s3Code;
    if (info.httpStatus !== undefined) this.httpStatus = info.httpStatus;
    if (info.requestId !== undefined) this.requestId = info.requestId;
    // The stack would only show SDK internals; the message says what happened.
    this.stack = `${this.name}: ${message}`;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, s3Code: this.s3Code, httpStatus: this.httpStatus, requestId: this.requestId };
  }
}

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkErrorLike)?.$metadata?.httpStatusCode;
}

/** The S3 error code ("NoSuchKey", "PreconditionFailed"…) or the Node error code ("ECONNREFUSED"). */
export function s3CodeOf(err: unknown): string | undefined {
  const e = err as SdkErrorLike;
  for (const v of [e?.Code, e?.code, e?.name]) if (typeof v === 'string' && v !== 'Error' && v !== '') return v;
  return undefined;
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err as SdkErrorLike)?.name === 'AbortError';
}

function percentEncoded(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text; // a lone surrogate: no URL can carry it
  }
}

/** Removes every known secret (and anything shaped like an AWS access key id) from a text. */
export class Scrubber {
  #secrets = new Set<string>();

  add(...values: Array<string | undefined>): void {
    for (const v of values) {
      if (typeof v !== 'string' || v.length < 4) continue;
      // Also as a URL or a signed request would carry it.
      for (const form of [v, percentEncoded(v)]) this.#secrets.add(form);
    }
  }

  scrub(text: string): string {
    let out = text;
    // Longest first: a secret holding another must not be left in pieces.
    for (const s of [...this.#secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]');
    return out.replace(/\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b/g, '[redacted]');
  }
}

export interface ErrorContext {
  /** What was being done: "get", "put", "list"… */
  op: string;
  /** The database-relative key (never the full key with credentials, which it cannot hold anyway). */
  key: string;
  /** The backend URL (no secrets). */
  url: string;
  bucket: string;
  signal?: AbortSignal;
  scrubber: Scrubber;
}

/** The sanitised copy of an SDK or network error, safe to attach as a cause. */
function sanitise(err: unknown, scrubber: Scrubber): S3ErrorInfo {
  const e = err as SdkErrorLike;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const rawMessage = typeof e?.message === 'string' ? e.message : String(err);
  return new S3ErrorInfo(scrubber.scrub(rawMessage).slice(0, 500), {
    name: scrubber.scrub(name).slice(0, 100),
    s3Code: s3CodeOf(err) === undefined ? undefined : scrubber.scrub(s3CodeOf(err)!).slice(0, 100),
    httpStatus: httpStatusOf(err),
    requestId: typeof e?.$metadata?.requestId === 'string' ? e.$metadata.requestId : undefined,
  });
}

/**
 * The typed error for a failed SDK call: AbortedError, KeyNotFoundError (missing key),
 * or StorageError with a sanitised cause. Errors that are already RomiErrors pass through.
 */
export function mapS3Error(err: unknown, ctx: ErrorContext): Error {
  if (isRomiError(err)) return err;
  if (isAbort(err, ctx.signal)) return new AbortedError(ctx.signal?.reason !== undefined ? { cause: ctx.signal.reason } : {});
  const info = sanitise(err, ctx.scrubber);
  const status = info.httpStatus;
  const code = info.s3Code;
  if (code === 'NoSuchBucket') {
    return new StorageError(`Bucket "${ctx.bucket}" does not exist (${ctx.url}); romidb never creates buckets: create it first`, { cause: info, key: ctx.key });
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code !== 'NoSuchUpload')) {
    return new KeyNotFoundError(ctx.key, { cause: info });
  }
  let what: string;
  if (status === 403 || code === 'AccessDenied' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch') {
    what = `access denied (${code ?? `HTTP ${status}`}): check the credentials and the bucket policy`;
  } else if (status === undefined && (err as SdkErrorLike)?.$metadata !== undefined) {
    what = `cannot reach the S3 endpoint (${code ?? info.name}: ${info.message})`;
  } else if (status === undefined) {
    // Not an answer from S3: e.g. the body stream being uploaded failed.
    what = `${info.name}: ${info.message}`;
  } else {
    what = `${code ?? info.name} (HTTP ${status}): ${info.message}`;
  }
  return new StorageError(`S3 ${ctx.op} of "${ctx.key}" in ${ctx.url} failed: ${what}`, { cause: info, key: ctx.key });
}
