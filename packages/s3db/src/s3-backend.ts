/**
 * S3Backend: the Backend over S3-compatible object storage (@aws-sdk/client-s3).
 *
 * - Keys live under an optional prefix: "<prefix>/<key>". Nothing outside it is listed or touched.
 * - Folder keys ("x/") are zero-byte marker objects; deleting "x/" deletes everything under it
 *   (DeleteObjects, 1,000 keys a call). Listings page through ListObjectsV2 past 1,000 keys.
 * - A PUT is atomic on S3: readers see the old object or the new one. Large and streamed bodies
 *   go through @aws-sdk/lib-storage (multipart, 8 MiB parts, 2 in flight: bounded memory).
 * - Conditional writes use If-None-Match: * and If-Match: <etag>, evaluated by the server, so
 *   they hold against every client. Each conditional PUT carries a random nonce in its user
 *   metadata, so that an ambiguous answer (an SDK retry of a PUT that had landed, a 500 from a
 *   server that had in fact applied it) is settled by a HEAD: our nonce → our write.
 *   409 ConditionalRequestConflict is retried; 412 is ConditionFailedError. Ceph RGW 16 answers
 *   some losers of a conditional race with 500: a HEAD shows whether the condition still holds.
 * - Before the first writer lock, a probe object checks that the store honours If-None-Match
 *   and If-Match at all (some stores and emulators ignore them): ROMI_NOT_SUPPORTED if not.
 * - ETags are kept unquoted and sent unquoted in If-Match (RGW 16 and others refuse the quoted
 *   form; AWS accepts both); `etagQuoting: 'quoted'` sends them quoted for servers that insist.
 * - The writer lock is a lease object (see lease.ts).
 * - Every failure is a typed RomiError; no credential appears in any message or cause.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  AbortedError,
  acquireLease,
  inspectLease,
  checkByteRange,
  ConditionFailedError,
  ErrorCodes,
  InvalidArgumentError,
  InvalidKeyError,
  isInternalKey,
  KeyNotFoundError,
  isRomiError,
  NotSupportedError,
  StorageError,
  sleep,
  throwIfAborted,
  toKey,
  concatBytes,
  iterateBody,
  type Backend,
  type BackendCapabilities,
  type Body,
  type GetStreamOptions,
  type Key,
  type ListEntry,
  type ListOptions,
  type LockHandle,
  type LockInfo,
  type LockOptions,
  type ObjectMeta,
  type PutOptions,
  type SignalOptions,
  type StoredObject,
} from '@romi/db-core';
import { httpStatusOf, isAbort, mapS3Error, s3CodeOf, Scrubber } from './errors.js';

export type S3Credentials = S3ClientConfig['credentials'];

export interface S3BackendOptions {
  /** The bucket (it must exist: romidb never creates buckets). */
  bucket: string;
  /** Key prefix of the database inside the bucket ("labs/plants" → keys "labs/plants/<key>"). */
  prefix?: string;
  /** S3 endpoint URL for non-AWS stores (Ceph, MinIO…), e.g. "http://127.0.0.1:7480". */
  endpoint?: string;
  /** Region (default: the AWS chain, AWS_REGION; "us-east-1" when an endpoint is given). */
  region?: string;
  /** Credentials or a provider; default: the standard AWS chain (env, profile, IMDS…). */
  credentials?: S3Credentials;
  /** Path-style URLs (http://host/bucket/key), needed by most self-hosted stores. */
  forcePathStyle?: boolean;
  /** Use this client instead of making one (its settings win; it is not destroyed by close()). */
  client?: S3Client;
  /** Length of the writer lease (default 30 s); renewed every leaseMs/3. */
  leaseMs?: number;
  /** Multipart part size for large and streamed bodies (default 8 MiB, at least 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once (default 2): memory ≈ (queueSize + 1) × partSize. */
  queueSize?: number;
  /** How ETags are sent in If-Match (default 'unquoted'). */
  etagQuoting?: 'unquoted' | 'quoted';
  /** Largest streamed body a conditional write buffers to send as one PUT (default 64 MiB). */
  maxConditionalStreamBytes?: number;
  /**
   * Before the first writer lock, check with a probe object that the store honours
   * If-None-Match and If-Match on PutObject (default true). A store that ignores them would
   * let writers overwrite each other silently, so connect() refuses it with ROMI_NOT_SUPPORTED.
   */
  verifyConditionalWrites?: boolean;
}

const MiB = 1024 * 1024;
const DEFAULT_LEASE_MS = 30_000;
const NONCE_META = 'romidb-nonce';
/** Bodies up to this size are one PutObject; larger ones go multipart. */
const SINGLE_PUT_MAX = 64 * MiB;
const CONDITION_ATTEMPTS = 6;

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  toml: 'application/toml',
  csv: 'text/csv',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  webp: 'image/webp',
};

function contentTypeOf(key: string): string | undefined {
  const dot = key.lastIndexOf('.');
  if (dot < 0 || dot < key.lastIndexOf('/')) return undefined;
  return CONTENT_TYPES[key.slice(dot + 1).toLowerCase()];
}

export function unquoteEtag(etag: string | undefined): string {
  if (!etag) return '';
  let e = etag.trim();
  if (e.startsWith('W/')) e = e.slice(2);
  if (e.length >= 2 && e.startsWith('"') && e.endsWith('"')) e = e.slice(1, -1);
  return e;
}

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The SDK's options for a call: our signal, passed as the SDK's own AbortSignal type (the same at run time). */
function sdkOptions(signal: AbortSignal | undefined): { abortSignal: never } | undefined {
  return signal ? { abortSignal: signal as never } : undefined;
}

function backoff(attempt: number): number {
  return Math.min(1_000, 25 * 2 ** attempt) * (0.5 + Math.random());
}

/** Normalises a database prefix: no leading/trailing "/", no empty, "." or ".." segment. */
function normalisePrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string') throw new InvalidArgumentError('The S3 prefix must be a string');
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  for (const seg of trimmed.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || /[\\\0]/.test(seg)) {
      throw new InvalidArgumentError(`Invalid S3 prefix ${JSON.stringify(prefix)}: empty, "." or ".." segments, "\\" and NUL are not allowed`);
    }
  }
  return trimmed;
}

function assertBucketName(bucket: unknown): asserts bucket is string {
  if (typeof bucket !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(bucket)) {
    throw new InvalidArgumentError(`Invalid S3 bucket name ${JSON.stringify(String(bucket)).slice(0, 80)}`);
  }
}

/** Decodes %XX escapes until none is left (a few rounds), leaving malformed ones as they are. */
export function decodeAll(text: string): string {
  for (let i = 0; i < 4; i++) {
    const next = text.replace(/%[0-9A-Fa-f]{2}/g, (e) => String.fromCharCode(parseInt(e.slice(1), 16)));
    if (next === text) break;
    text = next;
  }
  return text;
}

/**
 * Refuses endpoints that could carry credentials, without echoing them: an "@", "?" or "#",
 * raw or escaped, can only be a user info or a password cut short in an S3 endpoint
 * (http(s)://host[:port][/path]), whatever a URL parser makes of "https://user:1/pa@host".
 */
function checkEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidArgumentError('The S3 endpoint is not a valid URL (expected e.g. "https://s3.example.org" or "http://127.0.0.1:7480")');
  }
  if (url.username !== '' || url.password !== '' || /[@?#]/.test(decodeAll(endpoint))) {
    throw new InvalidArgumentError('The S3 endpoint URL must not contain credentials, a query or a fragment; pass credentials as `credentials` or through the AWS environment');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`The S3 endpoint must be an http(s) URL, got "${url.protocol}"`);
  return endpoint;
}

/** The region used when none is given: the AWS environment, else us-east-1 for custom endpoints. */
function defaultRegion(endpoint: string | undefined): string | undefined {
  return process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
}

/**
 * An S3Client with romidb's defaults: checksums only where an operation requires them
 * (stream bodies with the SDK's default aws-chunked CRC trailers are refused by Ceph RGW 16
 * and corrupted by older emulators).
 */
export function createS3Client(opts: Pick<S3BackendOptions, 'endpoint' | 'region' | 'credentials' | 'forcePathStyle'> = {}): S3Client {
  const endpoint = checkEndpoint(opts.endpoint);
  const region = opts.region ?? defaultRegion(endpoint);
  return new S3Client({
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.forcePathStyle !== undefined ? { forcePathStyle: opts.forcePathStyle } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true, never with credentials. */
export function s3Url(opts: Pick<S3BackendOptions, 'bucket' | 'prefix' | 'endpoint' | 'region' | 'forcePathStyle'>): string {
  const prefix = normalisePrefix(opts.prefix);
  const path = prefix === '' ? '' : `/${prefix.split('/').map(encodeURIComponent).join('/')}`;
  const query = new URLSearchParams();
  if (opts.endpoint !== undefined) query.set('endpoint', opts.endpoint);
  if (opts.region !== undefined) query.set('region', opts.region);
  if (opts.forcePathStyle !== undefined) query.set('forcePathStyle', String(opts.forcePathStyle));
  const q = query.toString();
  return `s3://${opts.bucket}${path}${q === '' ? '' : `?${q}`}`;
}

type PutCondition = { ifNoneMatch?: '*'; ifMatch?: string };

type GetOutput = { Body?: { transformToWebStream(): ReadableStream<Uint8Array> }; ContentLength?: number; ContentRange?: string; ETag?: string; LastModified?: Date };

/** What to stream of a GetObject answer: skip `skip` bytes of its body, then give `length`. */
type GetPlan = { out?: GetOutput; meta: ObjectMeta; skip: number; length: number };

export class S3Backend implements Backend {
  readonly url: string;
  readonly bucket: string;
  /** The normalised prefix ('' for the bucket root). */
  readonly prefix: string;
  readonly client: S3Client;
  readonly leaseMs: number;
  readonly capabilities: BackendCapabilities = { conditionalWrites: 'global', localPaths: false, lockScope: 'global', fsync: false };
  readonly #root: string;
  readonly #ownsClient: boolean;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #quoteEtags: boolean;
  readonly #maxConditionalStream: number;
  readonly #verifyConditional: boolean;
  #verified: Promise<void> | undefined;
  readonly #scrubber = new Scrubber();

  constructor(opts: S3BackendOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('S3Backend needs options with at least a bucket');
    assertBucketName(opts.bucket);
    this.bucket = opts.bucket;
    this.prefix = normalisePrefix(opts.prefix);
    this.#root = this.prefix === '' ? '' : `${this.prefix}/`;
    const endpoint = checkEndpoint(opts.endpoint);
    this.url = s3Url({ ...opts, endpoint });
    this.#ownsClient = opts.client === undefined;
    this.client = opts.client ?? createS3Client(opts);
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    if (!(this.leaseMs >= 300)) throw new InvalidArgumentError('leaseMs must be at least 300 ms');
    this.#partSize = Math.max(opts.partSize ?? 8 * MiB, 5 * MiB);
    this.#queueSize = Math.max(1, opts.queueSize ?? 2);
    this.#quoteEtags = opts.etagQuoting === 'quoted';
    this.#maxConditionalStream = opts.maxConditionalStreamBytes ?? 64 * MiB;
    this.#verifyConditional = opts.verifyConditionalWrites ?? true;
    const creds = opts.credentials;
    if (creds && typeof creds === 'object') {
      const c = creds as { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string };
      this.#scrubber.add(c.accessKeyId, c.secretAccessKey, c.sessionToken);
    }
    this.#scrubber.add(process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN);
  }

  // ---- helpers ----

  /**
   * The object key of a key under the prefix. Keys are checked by toKey; what is checked here
   * is where the request lands: "." and ".." segments, which a URL may resolve, never go out.
   */
  #full(key: string): string {
    if (key.startsWith('/') || /(^|\/)\.\.?(\/|$)/.test(key)) throw new InvalidKeyError(key, 'leaves the database prefix');
    return this.#root + key;
  }

  #error(err: unknown, op: string, key: string, signal?: AbortSignal): Error {
    return mapS3Error(err, { op, key, url: this.url, bucket: this.bucket, signal, scrubber: this.#scrubber });
  }

  #ifMatchHeader(etag: string): string {
    const bare = unquoteEtag(etag);
    return this.#quoteEtags ? `"${bare}"` : bare;
  }

  async #send<T>(command: object, op: string, key: string, signal?: AbortSignal): Promise<T> {
    throwIfAborted(signal);
    try {
      return (await this.client.send(command as never, sdkOptions(signal))) as T;
    } catch (err) {
      throw this.#error(err, op, key, signal);
    }
  }

  /** HeadObject, undefined when the key is missing. */
  async #headRaw(key: string, signal?: AbortSignal): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.#send<HeadObjectCommandOutput>(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }), 'head', key, signal);
    } catch (err) {
      if (isRomiError(err, ErrorCodes.NOT_FOUND)) return undefined;
      throw err;
    }
  }

  #metaOf(key: string, out: { ContentLength?: number; ETag?: string; LastModified?: Date }): ObjectMeta {
    const meta: ObjectMeta = { key, size: out.ContentLength ?? 0, etag: unquoteEtag(out.ETag) };
    if (out.LastModified) meta.mtime = out.LastModified;
    return meta;
  }

  // ---- Backend ----

  async get(key: Key, opts: SignalOptions = {}): Promise<StoredObject> {
    const out = await this.#send<{ Body?: { transformToByteArray(): Promise<Uint8Array> }; ContentLength?: number; ETag?: string; LastModified?: Date }>(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }),
      'get',
      key,
      opts.signal,
    );
    let bytes: Uint8Array;
    try {
      bytes = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      throw this.#error(err, 'get', key, opts.signal);
    }
    return { bytes, meta: { ...this.#metaOf(key, out), size: bytes.byteLength } };
  }

  async getStream(key: Key, opts: GetStreamOptions = {}): Promise<{ stream: ReadableStream<Uint8Array>; meta: ObjectMeta }> {
    checkByteRange(opts.range);
    const { start = 0, end } = opts.range ?? {};
    let plan: GetPlan;
    if (start === 0 && end === undefined) {
      const out = await this.#send<GetOutput>(new GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }), 'get', key, opts.signal);
      plan = { out, meta: this.#metaOf(key, out), skip: 0, length: Infinity };
    } else {
      plan = await this.#getRange(key, start, end, opts.signal);
    }
    const source = plan.out?.Body ? plan.out.Body.transformToWebStream() : new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    const reader = source.getReader();
    let { skip, length: left } = plan;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          for (;;) {
            if (left <= 0) {
              await reader.cancel().catch(() => {});
              controller.close();
              return;
            }
            const { done, value } = await reader.read();
            if (done) {
              controller.close();
              return;
            }
            const from = Math.min(skip, value.byteLength);
            skip -= from;
            const chunk = value.subarray(from, from + Math.min(left, value.byteLength - from));
            if (chunk.byteLength === 0) continue;
            left -= chunk.byteLength;
            controller.enqueue(chunk);
            return;
          }
        } catch (err) {
          controller.error(this.#error(err, 'read', key, opts.signal));
        }
      },
      cancel: async (reason) => {
        await reader.cancel(reason).catch(() => {});
      },
    });
    return { stream, meta: plan.meta };
  }

  /**
   * A GetObject with `Range: bytes=a-b`, and what of its body to stream. `meta.size` is the
   * whole object's, from Content-Range. The body is cut to the range, should a server send more
   * (one that ignores Range sends the whole object). A range holding no byte of the object
   * (S3 answers 416 InvalidRange) is a head instead: an empty stream with the object's meta.
   */
  async #getRange(key: string, start: number, end: number | undefined, signal?: AbortSignal): Promise<GetPlan> {
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      let out: GetOutput | undefined;
      if (end !== start) {
        try {
          out = await this.client.send(
            new GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key), Range: `bytes=${start}-${end === undefined ? '' : end - 1}` }),
            sdkOptions(signal),
          );
        } catch (err) {
          if (httpStatusOf(err) !== 416 && s3CodeOf(err) !== 'InvalidRange') throw this.#error(err, 'get', key, signal);
        }
      }
      if (out === undefined) {
        const head = await this.#headRaw(key, signal);
        if (!head) throw new KeyNotFoundError(key);
        const meta = this.#metaOf(key, head);
        if (end === start || meta.size <= start) return { meta, skip: 0, length: 0 };
        // Replaced by a larger object between the GET and the HEAD: ask again.
        if (attempt < CONDITION_ATTEMPTS) continue;
        throw new StorageError(`S3 get of "${key}" in ${this.url} failed: the object kept changing while its range was read`, { key });
      }
      // "bytes first-last/size"; none when the server sent the whole object (200).
      const answered = out.ContentRange === undefined ? undefined : /^bytes (\d+)-\d+\/(\d+)$/.exec(out.ContentRange.trim());
      const first = answered ? Number(answered[1]) : 0;
      const size = answered ? Number(answered[2]) : (out.ContentLength ?? 0);
      const meta = { ...this.#metaOf(key, out), size };
      const length = Math.max(0, Math.min(end ?? size, size) - start);
      const wrong = answered === null || first > start;
      // Nothing of this body is streamed: let the connection go now.
      if (wrong || length === 0) await out.Body?.transformToWebStream().cancel().catch(() => {});
      if (wrong) throw new StorageError(`S3 get of "${key}" in ${this.url} failed: bytes ${start}- were asked, the server answered Content-Range "${out.ContentRange}"`, { key });
      return length === 0 ? { meta, skip: 0, length } : { out, meta, skip: start - first, length };
    }
  }

  async head(key: Key, opts: SignalOptions = {}): Promise<ObjectMeta | undefined> {
    const out = await this.#headRaw(key, opts.signal);
    if (out) return this.#metaOf(key, out);
    if (!key.endsWith('/')) return undefined;
    // A folder without its marker object still exists while something is under it.
    const page = await this.#send<ListObjectsV2CommandOutput>(
      new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#full(key), MaxKeys: 1 }),
      'list',
      key,
      opts.signal,
    );
    return (page.Contents ?? []).length > 0 ? { key, size: 0, etag: 'folder' } : undefined;
  }

  async put(key: Key, body: Body, opts: PutOptions = {}): Promise<ObjectMeta> {
    throwIfAborted(opts.signal);
    if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch !== '*') throw new InvalidArgumentError('ifNoneMatch only takes "*"');
    const conditional = opts.ifNoneMatch === '*' || opts.ifMatch !== undefined;
    if (key.endsWith('/')) {
      // Folder marker: always zero bytes.
      if (!(body instanceof Uint8Array)) await drain(body);
      return this.#putSingle(key, new Uint8Array(), opts, opts.signal);
    }
    if (body instanceof Uint8Array && (body.byteLength <= SINGLE_PUT_MAX || conditional)) {
      return this.#putSingle(key, body, opts, opts.signal);
    }
    if (conditional) {
      // Multipart completion is not conditional on every server (RGW 16 ignores it): buffer and PUT once.
      const bytes = await bufferUpTo(body, this.#maxConditionalStream);
      if (bytes === undefined) {
        throw new NotSupportedError(`Conditional writes of streams larger than ${this.#maxConditionalStream} bytes are not supported on ${this.url} (key "${key}")`);
      }
      return this.#putSingle(key, bytes, opts, opts.signal);
    }
    return this.#putMultipart(key, body, opts);
  }

  /** One PutObject, with the conditional-write protocol described at the top of this file. */
  async #putSingle(key: string, bytes: Uint8Array, cond: PutCondition, signal?: AbortSignal): Promise<ObjectMeta> {
    const conditional = cond.ifNoneMatch === '*' || cond.ifMatch !== undefined;
    const nonce = conditional ? randomUUID() : undefined;
    const contentType = contentTypeOf(key);
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.#full(key),
      Body: bytes,
      ContentLength: bytes.byteLength,
      ...(contentType ? { ContentType: contentType } : {}),
      ...(cond.ifNoneMatch === '*' ? { IfNoneMatch: '*' } : {}),
      ...(cond.ifMatch !== undefined ? { IfMatch: this.#ifMatchHeader(cond.ifMatch) } : {}),
      ...(nonce ? { Metadata: { [NONCE_META]: nonce } } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      let out: { ETag?: string };
      try {
        out = await this.client.send(new PutObjectCommand(input), sdkOptions(signal));
      } catch (err) {
        if (!conditional || isAbort(err, signal)) throw this.#error(err, 'put', key, signal);
        const status = httpStatusOf(err);
        const code = s3CodeOf(err);
        if (code === 'NoSuchBucket') throw this.#error(err, 'put', key, signal);
        if (status === 409) {
          // AWS: ConditionalRequestConflict, a concurrent write of the same key: retry as is.
          if (attempt < CONDITION_ATTEMPTS) {
            await sleep(backoff(attempt), signal);
            continue;
          }
          throw new ConditionFailedError(key, `the object kept changing (409 ${code ?? 'Conflict'} ${attempt} times)`);
        }
        if (status === 412 || status === 404 || (status !== undefined && status >= 500)) {
          // Did this very write land (an SDK retry after a lost answer, or a server that failed
          // after applying it)? Our nonce on the current object says so.
          const current = await this.#headRaw(key, signal);
          if (current && nonce !== undefined && current.Metadata?.[NONCE_META] === nonce) return this.#metaOf(key, current);
          if (status === 404) throw new ConditionFailedError(key, 'the object does not exist');
          if (status === 412) throw new ConditionFailedError(key, cond.ifNoneMatch === '*' ? 'the object already exists' : 'the object changed since it was read');
          // 5xx: Ceph RGW 16 answers some losers of a conditional race with 500. If the
          // condition no longer holds we lost; if it still holds this was a plain server error.
          const holds = cond.ifNoneMatch === '*' ? current === undefined : current !== undefined && unquoteEtag(current.ETag) === unquoteEtag(cond.ifMatch);
          if (!holds) throw new ConditionFailedError(key, `the object changed (the server answered ${status} to the conditional write)`);
          if (attempt < CONDITION_ATTEMPTS) {
            await sleep(backoff(attempt), signal);
            continue;
          }
        }
        throw this.#error(err, 'put', key, signal);
      }
      const etag = unquoteEtag(out.ETag);
      if (etag !== '') return { key, size: bytes.byteLength, etag, mtime: new Date() };
      const meta = await this.#headRaw(key, signal);
      if (!meta) throw new StorageError(`S3 put of "${key}" in ${this.url} returned no ETag and the object is not visible`, { key });
      return this.#metaOf(key, meta);
    }
  }

  /** Streams and very large buffers: lib-storage Upload (multipart beyond one part). */
  async #putMultipart(key: string, body: Body, opts: PutOptions): Promise<ObjectMeta> {
    let size = 0;
    let sourceError: unknown;
    const counted = (async function* (): AsyncIterable<Uint8Array> {
      try {
        for await (const chunk of iterateBody(body)) {
          size += chunk.byteLength;
          yield chunk;
        }
      } catch (err) {
        sourceError = err;
        throw err;
      }
    })();
    // One chunk of read-ahead: the uploader's parts are the only large buffers.
    const source = Readable.from(counted, { objectMode: true, highWaterMark: 1 });
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const contentType = contentTypeOf(key);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.#full(key),
        Body: source,
        ...(opts.size !== undefined ? { ContentLength: opts.size } : {}),
        ...(contentType ? { ContentType: contentType } : {}),
      },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
      abortController: abort,
    });
    let out: { ETag?: string };
    try {
      out = await upload.done();
    } catch (err) {
      // The body failing is the cause, whatever the uploader reports after it (e.g. a failed abort).
      if (sourceError !== undefined && !opts.signal?.aborted) {
        if (isRomiError(sourceError)) throw sourceError;
        throw new StorageError(`Reading the body written to "${key}" in ${this.url} failed: ${(sourceError as Error)?.message ?? String(sourceError)}`, { cause: sourceError, key });
      }
      throw this.#error(err, 'put', key, opts.signal);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      source.destroy();
    }
    const etag = unquoteEtag(out.ETag);
    if (etag !== '') return { key, size, etag, mtime: new Date() };
    // RGW 16: the SDK reads an empty ETag from CompleteMultipartUpload; HEAD has the right one.
    const meta = await this.#headRaw(key, opts.signal);
    if (!meta) throw new StorageError(`S3 multipart put of "${key}" in ${this.url} completed but the object is not visible`, { key });
    return this.#metaOf(key, meta);
  }

  async delete(key: Key, opts: SignalOptions = {}): Promise<void> {
    if (!key.endsWith('/')) {
      await this.#send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }), 'delete', key, opts.signal).catch((err: unknown) => {
        if (!isRomiError(err, ErrorCodes.NOT_FOUND)) throw err;
      });
      return;
    }
    // A folder: every object under it, its marker included, 1,000 per DeleteObjects call.
    let token: string | undefined;
    do {
      const page = await this.#send<ListObjectsV2CommandOutput>(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#full(key), ContinuationToken: token }),
        'list',
        key,
        opts.signal,
      );
      const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (objects.length > 0) {
        const out = await this.#send<{ Errors?: Array<{ Key?: string; Code?: string }> }>(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }),
          'delete',
          key,
          opts.signal,
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          const rel = first.Key?.startsWith(this.#root) ? first.Key.slice(this.#root.length) : key;
          throw new StorageError(`S3 delete of "${key}" in ${this.url} failed for ${failed.length} object(s), e.g. "${rel}": ${first.Code ?? 'unknown error'}`, { key });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *list(prefix: Key | '', opts: ListOptions = {}): AsyncIterable<ListEntry> {
    let token: string | undefined;
    do {
      const page = await this.#send<ListObjectsV2CommandOutput>(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.#full(prefix),
          ContinuationToken: token,
          ...(opts.delimiter === '/' ? { Delimiter: '/' } : {}),
        }),
        'list',
        prefix,
        opts.signal,
      );
      for (const cp of page.CommonPrefixes ?? []) {
        if (!cp.Prefix?.startsWith(this.#root)) continue;
        const rel = cp.Prefix.slice(this.#root.length);
        if (opts.internal || !isInternalKey(rel)) yield { kind: 'prefix', key: rel };
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.#root)) continue;
        const rel = o.Key.slice(this.#root.length);
        // romidb's own entries are not data: listed only when asked for.
        if (!opts.internal && isInternalKey(rel)) continue;
        // The folder being listed is not one of its own entries.
        if (rel === '' || (prefix.endsWith('/') && rel === prefix)) continue;
        const entry: ListEntry = { kind: 'object', key: rel, size: o.Size ?? 0, etag: unquoteEtag(o.ETag) };
        if (o.LastModified) entry.mtime = o.LastModified;
        yield entry;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  // ---- the database marker ----

  /** Writes the `romidb` marker if absent (create-only). */
  async writeMarker(markerKey: Key, opts: SignalOptions = {}): Promise<void> {
    try {
      await this.put(markerKey, new Uint8Array(), { ifNoneMatch: '*', signal: opts.signal });
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw err;
    }
  }

  /** Whether the bucket exists and can be listed (used to explain a missing marker). */
  async bucketProblem(opts: SignalOptions = {}): Promise<Error | undefined> {
    try {
      await this.#send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#root, MaxKeys: 1 }), 'list', '', opts.signal);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  /**
   * Checks once per backend that the store honours conditional PUTs, with a probe object
   * ".romidb-probe-<uuid>" under the prefix (removed at once): If-Match on a missing key,
   * If-None-Match: * on an existing key and If-Match with a wrong ETag must all fail.
   */
  verifyConditionalWrites(signal?: AbortSignal): Promise<void> {
    this.#verified ??= this.#probeConditionalWrites(signal).catch((err: unknown) => {
      this.#verified = undefined;
      throw err;
    });
    return this.#verified;
  }

  async #probeConditionalWrites(signal?: AbortSignal): Promise<void> {
    const key = `.romidb-probe-${randomUUID()}`;
    const refused = async (cond: PutCondition): Promise<boolean> => {
      try {
        await this.#putSingle(key, enc('probe'), cond, signal);
        return false;
      } catch (err) {
        if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) return true;
        throw err;
      }
    };
    const wrongEtag = '0123456789abcdef0123456789abcdef';
    try {
      const ignored: string[] = [];
      if (!(await refused({ ifMatch: wrongEtag }))) ignored.push('If-Match on a missing key');
      await this.#putSingle(key, enc('probe'), {}, signal);
      if (!(await refused({ ifNoneMatch: '*' }))) ignored.push('If-None-Match: * on an existing key');
      if (!(await refused({ ifMatch: wrongEtag }))) ignored.push('If-Match with another ETag');
      if (ignored.length > 0) {
        throw new NotSupportedError(
          `The S3 store of ${this.url} ignores conditional writes (${ignored.join('; ')}): writers could overwrite each other's changes silently, so romidb does not write there. Upgrade the store, or pass verifyConditionalWrites: false to accept the risk.`,
        );
      }
    } finally {
      await this.delete(toKey(key)).catch(() => {});
    }
  }

  /** The writer lock: a lease object (see @romi/db-core's lease.ts), renewed while held. */
  async lock(name: string, opts: LockOptions = {}): Promise<LockHandle> {
    throwIfAborted(opts.signal);
    // The lease itself relies on conditional writes: check the store honours them first.
    if (this.#verifyConditional) await this.verifyConditionalWrites(opts.signal);
    return acquireLease(this, name, { ...opts, leaseMs: this.leaseMs, holder: { host: hostname(), pid: process.pid } });
  }

  inspectLock(name: string, opts: SignalOptions & { staleMs?: number } = {}): Promise<LockInfo | undefined> {
    return inspectLease(this, name, opts);
  }

  async forceUnlock(name: string): Promise<void> {
    await this.delete(toKey(name));
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy();
  }
}

async function drain(body: Body): Promise<void> {
  for await (const _ of iterateBody(body)) {
    // discard
  }
}

/** Collects a body when it has at most `limit` bytes; undefined (and the rest unread) when larger. */
async function bufferUpTo(body: Body, limit: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const iterator = iterateBody(body)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const { done, value } = await iterator.next();
      if (done) break;
      size += value.byteLength;
      if (size > limit) return undefined;
      chunks.push(value);
    }
  } finally {
    if (size > limit) await iterator.return?.();
  }
  return concatBytes(chunks);
}
