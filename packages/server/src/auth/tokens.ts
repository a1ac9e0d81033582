/**
 * The tokens of `romidb serve`'s accounts: plantdb 0.15's HS512 JSON Web Tokens, the secret they
 * are signed with, and their sessions and revocations, kept in the database's own storage so that
 * every server process over one database (and a restarted one) agrees on them.
 *
 * - Claims as plantdb's: `iss` plantdb-api, `aud` plantdb-client, `sub` (the username), `jti`,
 *   `iat`, `exp`, `type` access | refresh | api; API tokens add `datasets` (plantdb's
 *   "glob/perm,perm;glob/perm" string). romidb adds `sid`: the session a token belongs to (an
 *   access token and its refresh token share one; an API token's is its own `jti`), which is what
 *   is revoked.
 * - The secret is used as it is (never stretched with a random salt as plantdb does), so tokens
 *   outlive a restart: `loadSecret` (a file of mode 0600 or ROMIDB_JWT_SECRET), `createSecretFile`.
 * - Storage (under `.romidb-tokens/`, one of romidb's internal names: never listed, served,
 *   checked or mirrored):
 *
 *   ```
 *   .romidb-tokens/revoked/<sid>                      one object per revoked session or API token
 *   .romidb-tokens/sessions/<sha256(sub)>/<iat>-<exp>-<sid>   one per live session (per-user limit)
 *   .romidb-tokens/api/<sha256(sub)>/<iat>-<exp>-<jti>        one per API token issued
 *   ```
 *
 *   A revocation is one create-only put (no read-modify-write to race); checking a token is one
 *   HEAD. Only "revoked" answers are cached in the process (a revocation never ends before its
 *   tokens expire), never "not revoked": a revocation made by any process is refused by every
 *   other one from the moment its put has returned.
 *
 * See README.md, "Tokens".
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import {
  AlreadyExistsError,
  ErrorCodes,
  INTERNAL_PREFIX,
  InvalidArgumentError,
  isRomiError,
  mapLimit,
  RomiError,
  toKey,
  type Backend,
  type Key,
} from '@romi/db-core';

// ---- errors ----

/** Why a token was refused (for logs and tests; the client is told only that it is invalid, expired or revoked). */
export type TokenErrorReason =
  /** Not a compact JWS with a JSON object as claims. */
  | 'malformed'
  /** Not HS512: `none`, HS256, RS256… */
  | 'algorithm'
  /** Signed with another key, or altered. */
  | 'signature'
  /** A claim missing or wrong: iss, aud, sub, jti, sid, iat, exp, type, datasets. */
  | 'claims'
  | 'expired'
  /** `iat` or `nbf` in the future (beyond the leeway). */
  | 'not-yet-valid'
  /** A valid token of another type than the use needs (a refresh token as an access token…). */
  | 'wrong-type'
  /** Its session or API token was revoked (logout, session limit, revokeUser). */
  | 'revoked'
  /** A refresh token already exchanged for a new pair. */
  | 'reused';

/** A token refused: ROMI_INVALID_TOKEN, which the server answers with 401. */
export class InvalidTokenError extends RomiError {
  constructor(
    readonly reason: TokenErrorReason,
    message: string,
  ) {
    super(ErrorCodes.INVALID_TOKEN, message);
  }
}

const refused = (reason: TokenErrorReason, detail: string): InvalidTokenError => new InvalidTokenError(reason, `Invalid token: ${detail}`);

// ---- the secret ----

const SECRET_ENV = 'ROMIDB_JWT_SECRET';
const MIN_SECRET_BYTES = 32;

/** The bytes without a trailing line end ("\n" or "\r\n", as `echo` and editors leave). */
function withoutLineEnd(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  if (bytes[end - 1] === 0x0a) end--;
  if (bytes[end - 1] === 0x0d) end--;
  return bytes.subarray(0, end);
}

function checkSecret(secret: Uint8Array, where: string): Uint8Array {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(`The JWT secret in ${where} is ${secret.length} bytes long: at least ${MIN_SECRET_BYTES} are needed (64 random bytes are best; "romidb serve --jwt-secret-file" makes one)`);
  }
  return secret;
}

/**
 * The key tokens are signed with: the content of `file` if given, else the environment variable
 * ROMIDB_JWT_SECRET (of `env`, process.env by default); used as it is, less one trailing line
 * end, and at least 32 bytes long. On POSIX the file must be readable by its owner only (mode
 * 0600 or 0400, as ssh asks of private keys): a file group or others may read or write is
 * refused. Nothing given, or anything wrong: ROMI_INVALID_ARGUMENT.
 */
export async function loadSecret(opts: { file?: string; env?: Readonly<Record<string, string | undefined>> } = {}): Promise<Uint8Array> {
  const { file } = opts;
  if (file !== undefined) {
    let handle;
    try {
      // Non-blocking: a FIFO put in its place must not hang the start.
      handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    } catch (err) {
      throw new InvalidArgumentError(`Cannot read the JWT secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new InvalidArgumentError(`The JWT secret file ${file} is not a regular file`);
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
        throw new InvalidArgumentError(`The JWT secret file ${file} may be read or changed by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): run "chmod 600 ${file}"`);
      }
      return checkSecret(withoutLineEnd(await handle.readFile()), `the file ${file}`);
    } finally {
      await handle.close();
    }
  }
  const value = (opts.env ?? process.env)[SECRET_ENV];
  if (value === undefined || value === '') {
    throw new InvalidArgumentError(`No JWT secret: give a secret file ("romidb serve --jwt-secret-file <file>") or set ${SECRET_ENV}`);
  }
  return checkSecret(withoutLineEnd(new TextEncoder().encode(value)), SECRET_ENV);
}

/**
 * Writes a new secret — 64 random bytes, base64url, one line — to `path`, created with mode
 * 0600. An existing file is never replaced (ROMI_ALREADY_EXISTS): a new secret ends every session
 * and API token signed with the old one.
 */
export async function createSecretFile(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`${path} exists already: remove it first to replace the secret (every token signed with it stops working)`, { key: path });
    throw err;
  }
  try {
    await handle.writeFile(`${randomBytes(64).toString('base64url')}\n`);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
}

// ---- dataset permissions of API tokens ----

/** plantdb's permissions (`Permission` values). */
export type Permission = 'read' | 'write' | 'create' | 'delete' | 'manage_users' | 'manage_groups';
const PERMISSIONS: readonly Permission[] = ['read', 'write', 'create', 'delete', 'manage_users', 'manage_groups'];

/** What an API token may do, per dataset (scan id) glob: Python's `fnmatchcase` patterns (`*`, `?`, `[…]`, `[!…]`). */
export type DatasetScope = ReadonlyMap<string, ReadonlySet<Permission>>;

/** A permission as plantdb writes or reads it: `read`, `READ` or `Permission.READ`. */
function parsePermission(text: string): Permission {
  const t = text.trim();
  const p = t.slice(t.lastIndexOf('.') + 1).toLowerCase() as Permission;
  if (!PERMISSIONS.includes(p)) throw new InvalidArgumentError(`Unknown permission ${JSON.stringify(text).slice(0, 100)}: one of ${PERMISSIONS.join(', ')}`);
  return p;
}

const MAX_GLOB = 255;
const globCache = new Map<string, RegExp>();

/** Python's `fnmatch.translate` for the patterns scan ids need; ROMI_INVALID_ARGUMENT for one that cannot be a pattern. */
function globRegExp(glob: string): RegExp {
  const cached = globCache.get(glob);
  if (cached) return cached;
  let re = '';
  for (let i = 0; i < glob.length; ) {
    const c = glob[i++]!;
    if (c === '*') {
      re += '[\\s\\S]*';
      while (glob[i] === '*') i++;
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '[') {
      let j = i;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        re += '\\[';
        continue;
      }
      let set = glob.slice(i, j).replace(/\\/g, '\\\\').replace(/]/g, '\\]');
      i = j + 1;
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^') || set.startsWith('[')) set = `\\${set}`;
      re += `[${set}]`;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  let regexp: RegExp;
  try {
    regexp = new RegExp(`^(?:${re})$`);
  } catch {
    throw new InvalidArgumentError(`Invalid dataset pattern ${JSON.stringify(glob).slice(0, 100)}`);
  }
  if (globCache.size >= 1000) globCache.clear();
  globCache.set(glob, regexp);
  return regexp;
}

function addScope(scope: Map<string, Set<Permission>>, glob: string, perms: Iterable<string>): void {
  if (glob === '' || glob.length > MAX_GLOB || /[;/]/.test(glob)) {
    throw new InvalidArgumentError(`Invalid dataset pattern ${JSON.stringify(glob).slice(0, 100)}: 1 to ${MAX_GLOB} characters, without "/" or ";"`);
  }
  globRegExp(glob);
  const set = scope.get(glob) ?? new Set<Permission>();
  for (const p of perms) set.add(parsePermission(p));
  scope.set(glob, set);
}

/**
 * An API token's dataset scope from plantdb's claim string (`"<glob>/<perm>,<perm>;<glob>/<perm>"`, e.g. `real_plant_00?/read,write`,
 * permissions as `read`, `READ` or `Permission.READ`) or from `/create-api-token`'s object
 * (`{"real_plant*": ["read", "write"]}`). ROMI_INVALID_ARGUMENT for an unknown permission or a
 * bad pattern.
 */
export function parseDatasetScope(input: string | Readonly<Record<string, readonly string[]>>): DatasetScope {
  const scope = new Map<string, Set<Permission>>();
  if (typeof input === 'string') {
    if (input === '') return scope;
    for (const part of input.split(';')) {
      const slash = part.indexOf('/');
      const perms = slash < 0 ? '' : part.slice(slash + 1);
      addScope(scope, slash < 0 ? part : part.slice(0, slash), perms === '' ? [] : perms.split(','));
    }
  } else {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidArgumentError('Invalid datasets: an object of dataset patterns and permission lists');
    for (const [glob, perms] of Object.entries(input)) {
      if (!Array.isArray(perms) || perms.some((p) => typeof p !== 'string')) throw new InvalidArgumentError(`Invalid permissions for ${JSON.stringify(glob).slice(0, 100)}: a list of permission names`);
      addScope(scope, glob, perms);
    }
  }
  return scope;
}

/** plantdb's claim string for a scope (permissions as their values: `"real_plant_00?/read,write"`). */
function formatDatasetScope(scope: DatasetScope): string {
  return [...scope].map(([glob, perms]) => `${glob}/${PERMISSIONS.filter((p) => perms.has(p)).join(',')}`).join(';');
}

/**
 * What a request may do: the user's permissions on `dataset`, limited to what the token's scope
 * grants there (the union over the patterns matching the dataset id), as plantdb does (token ∩
 * user). No scope (an access token, an API token made without `datasets`): the user's
 * permissions. A scoped token grants nothing outside datasets (`dataset` undefined: managing
 * users or groups).
 */
export function effectivePermissions(user: Iterable<Permission>, scope: DatasetScope | undefined, dataset?: string): Set<Permission> {
  const granted = new Set(user);
  if (scope === undefined) return granted;
  const allowed = new Set<Permission>();
  if (dataset !== undefined) {
    for (const [glob, perms] of scope) if (globRegExp(glob).test(dataset)) for (const p of perms) allowed.add(p);
  }
  return new Set([...granted].filter((p) => allowed.has(p)));
}

// ---- tokens ----

export type TokenType = 'access' | 'refresh' | 'api';
const TYPES: readonly TokenType[] = ['access', 'refresh', 'api'];

const ISSUER = 'plantdb-api';
const AUDIENCE = 'plantdb-client';
/** `jti` and `sid`: 128 random bits in lower-case hex (safe as a storage key anywhere). */
const ID = /^[0-9a-f]{32}$/;
const MAX_SUBJECT = 256;
/** A longer text is not one of ours: refused before any parsing. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** A rotated refresh token used again later than this is taken as stolen: the sessions it was exchanged for are revoked too. */
const REUSE_GRACE_S = 30;
/** Revocation records are kept this long after their tokens expire (clocks of processes on other hosts may be behind). */
const PRUNE_MARGIN_S = 600;
const CACHE_SIZE = 10_000;

const newId = (): string => randomBytes(16).toString('hex');

/** A token that passed every check. */
export interface VerifiedToken {
  /** The username. */
  sub: string;
  type: TokenType;
  jti: string;
  /** The session (access and refresh tokens) or, for an API token, its `jti`: what revocation names. */
  sid: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  /** API tokens made with `datasets`. */
  datasets?: DatasetScope;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds since the epoch. */
  accessExpiresAt: number;
  refreshExpiresAt: number;
}

export interface TokenServiceOptions {
  /** The database's storage: sessions and revocations are kept under `.romidb-tokens/`. */
  backend: Backend;
  /** The signing key (`loadSecret`): at least 32 bytes. */
  secret: Uint8Array;
  /** Access token lifetime in seconds (3600, plantdb's). */
  accessTtl?: number;
  /** Refresh token lifetime in seconds (86400, plantdb's); at least `accessTtl`. */
  refreshTtl?: number;
  /** An API token's lifetime when none is asked (3600, plantdb's). */
  apiTtl?: number;
  /** The longest lifetime an API token may be given (365 days). */
  maxApiTtl?: number;
  /** Live sessions (refresh tokens) per user; a login beyond it revokes that user's oldest (20). */
  sessionsPerUser?: number;
  /** Clock skew allowed on `exp`, `iat` and `nbf`, in seconds (2, plantdb's). */
  leeway?: number;
  /** How often expired revocation records are looked for, at most, in ms (1 h); 0: only by `prune()`. */
  pruneIntervalMs?: number;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
  /** A background prune that failed (the server logs it). */
  onError?: (err: unknown) => void;
}

interface Revocation {
  sid: string;
  sub: string;
  /** When the last token it covers expires (seconds since the epoch). */
  exp: number;
  revokedAt: number;
  reason: 'logout' | 'rotated' | 'session-limit' | 'revoked' | 'reuse';
  /** A rotation: the session the refresh token was exchanged for, and when it ends. */
  next?: string;
  nextExp?: number;
}

/** One session or API token as listed under its user. */
interface Issued {
  iat: number;
  exp: number;
  id: string;
  key: Key;
}

const RECORD_NAME = /^(\d{1,15})-(\d{1,15})-([0-9a-f]{32})$/;
const ROOT = `${INTERNAL_PREFIX}tokens`;
const userFolder = (kind: 'sessions' | 'api', sub: string): string => `${ROOT}/${kind}/${createHash('sha256').update(sub).digest('hex')}/`;
const issuedKey = (kind: 'sessions' | 'api', sub: string, iat: number, exp: number, id: string): Key => toKey(`${userFolder(kind, sub)}${iat}-${exp}-${id}`);
const revokedKey = (sid: string): Key => toKey(`${ROOT}/revoked/${sid}`);
const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value)}\n`);

/**
 * The ledger in storage: what was issued to whom, and what was revoked. Several of them (one per
 * server process) over one backend agree, since each revocation is a create-only object and no
 * "not revoked" answer is remembered.
 */
class TokenLedger {
  readonly #backend: Backend;
  /** Revocations seen (the oldest forgotten first beyond CACHE_SIZE): a revocation is never undone while its tokens live. */
  readonly #revoked = new Set<string>();

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Whether `sid` is revoked: the cache, else one HEAD. */
  async isRevoked(sid: string): Promise<boolean> {
    if (this.#revoked.has(sid)) return true;
    if ((await this.#backend.head(revokedKey(sid))) === undefined) return false;
    this.#remember(sid);
    return true;
  }

  #remember(sid: string): void {
    if (this.#revoked.size >= CACHE_SIZE) this.#revoked.delete(this.#revoked.values().next().value!);
    this.#revoked.add(sid);
  }

  /** Records a revocation; false if `sid` was revoked already (by anyone: the put is create-only). */
  async revoke(record: Revocation): Promise<boolean> {
    let created = true;
    try {
      await this.#backend.put(revokedKey(record.sid), json(record), { ifNoneMatch: '*' });
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw err;
      created = false;
    }
    this.#remember(record.sid);
    return created;
  }

  /** The revocation record of `sid`, if there is one that can be read. */
  async revocation(sid: string): Promise<Revocation | undefined> {
    try {
      const value = JSON.parse(new TextDecoder().decode((await this.#backend.get(revokedKey(sid))).bytes)) as Revocation;
      return typeof value === 'object' && value !== null ? value : undefined;
    } catch (err) {
      if (isRomiError(err, ErrorCodes.NOT_FOUND) || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async addIssued(kind: 'sessions' | 'api', sub: string, iat: number, exp: number, id: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.#backend.put(issuedKey(kind, sub, iat, exp, id), json({ sub, [kind === 'api' ? 'jti' : 'sid']: id, iat, exp, ...extra }), { ifNoneMatch: '*' });
  }

  async removeIssued(key: Key): Promise<void> {
    await this.#backend.delete(key);
  }

  /** The sessions or API tokens recorded for `sub` (in no order). */
  async listIssued(kind: 'sessions' | 'api', sub: string): Promise<Issued[]> {
    const out: Issued[] = [];
    for await (const entry of this.#backend.list(toKey(userFolder(kind, sub)), { internal: true })) {
      if (entry.kind !== 'object') continue;
      const m = RECORD_NAME.exec(entry.key.slice(entry.key.lastIndexOf('/') + 1));
      if (m) out.push({ iat: Number(m[1]), exp: Number(m[2]), id: m[3]!, key: toKey(entry.key) });
    }
    return out;
  }

  /**
   * Deletes revocation records whose tokens have all expired `keepS` ago. A record stored less
   * than `youngS` ago cannot be one (no session outlives its revocation by more) and is not
   * read; one that cannot be read is deleted only once stored `oldS` ago (no token lives longer).
   */
  async prune(nowS: number, { keepS, youngS, oldS }: { keepS: number; youngS: number; oldS: number }): Promise<number> {
    const candidates: Array<{ key: Key; old: boolean }> = [];
    for await (const entry of this.#backend.list(toKey(`${ROOT}/revoked/`), { internal: true })) {
      if (entry.kind !== 'object' || !ID.test(entry.key.slice(entry.key.lastIndexOf('/') + 1))) continue;
      const stored = entry.mtime ? entry.mtime.getTime() / 1000 : undefined;
      if (stored !== undefined && stored + youngS > nowS) continue;
      candidates.push({ key: toKey(entry.key), old: stored !== undefined && stored + oldS < nowS });
    }
    let removed = 0;
    await mapLimit(candidates, 8, async ({ key, old }) => {
      const sid = key.slice(key.lastIndexOf('/') + 1);
      const record = await this.revocation(sid);
      const expired = record === undefined ? old : typeof record.exp === 'number' && record.exp + keepS < nowS;
      if (!expired) return;
      await this.#backend.delete(key);
      this.#revoked.delete(sid);
      removed++;
    });
    return removed;
  }
}

/** A whole number ≥ `min`, or ROMI_INVALID_ARGUMENT. */
function wholeNumber(value: number | undefined, fallback: number, name: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`Invalid ${name}: a whole number ≥ ${min}`);
  return v;
}

function checkSubject(sub: unknown): string {
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT) throw new InvalidArgumentError(`Invalid token subject: a username of 1 to ${MAX_SUBJECT} characters`);
  return sub;
}

/** The refusal a jose error stands for; anything else is not a token problem and is thrown as it is. */
function refusalOf(err: unknown): InvalidTokenError {
  const { code, claim } = err as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return refused('algorithm', 'not signed with HS512');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return refused('signature', 'signature verification failed');
    case 'ERR_JWT_EXPIRED':
      return new InvalidTokenError('expired', 'Token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return refused('not-yet-valid', 'not valid yet');
      return refused('claims', `bad or missing "${claim ?? '?'}" claim`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return refused('malformed', 'not a JSON Web Token');
    default:
      throw err;
  }
}

/**
 * Issues, verifies and revokes the server's tokens (one per server process; any number of them
 * may share one database). Every refusal is an InvalidTokenError (ROMI_INVALID_TOKEN → 401).
 */
export class TokenService {
  readonly #ledger: TokenLedger;
  readonly #key: Promise<CryptoKey>;
  readonly #accessTtl: number;
  readonly #refreshTtl: number;
  readonly #apiTtl: number;
  readonly #maxApiTtl: number;
  readonly #sessionsPerUser: number;
  readonly #leeway: number;
  readonly #pruneIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #lastPrune: number;

  constructor(opts: TokenServiceOptions) {
    if (!opts.backend) throw new InvalidArgumentError('TokenService needs the database backend');
    if (!(opts.secret instanceof Uint8Array)) throw new InvalidArgumentError('TokenService needs the secret as bytes (loadSecret)');
    const secret = checkSecret(opts.secret, 'the options');
    this.#ledger = new TokenLedger(opts.backend);
    this.#key = crypto.subtle.importKey('raw', new Uint8Array(secret), { name: 'HMAC', hash: 'SHA-512' }, false, ['sign', 'verify']);
    this.#key.catch(() => {});
    this.#accessTtl = wholeNumber(opts.accessTtl, 3600, 'accessTtl');
    this.#refreshTtl = wholeNumber(opts.refreshTtl, 86_400, 'refreshTtl', this.#accessTtl);
    this.#apiTtl = wholeNumber(opts.apiTtl, 3600, 'apiTtl');
    this.#maxApiTtl = wholeNumber(opts.maxApiTtl, 365 * 86_400, 'maxApiTtl', this.#apiTtl);
    this.#sessionsPerUser = wholeNumber(opts.sessionsPerUser, 20, 'sessionsPerUser');
    this.#leeway = wholeNumber(opts.leeway, 2, 'leeway', 0);
    this.#pruneIntervalMs = wholeNumber(opts.pruneIntervalMs, 3_600_000, 'pruneIntervalMs', 0);
    this.#now = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => {});
    this.#lastPrune = this.#now();
  }

  #nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  async #sign(type: TokenType, sub: string, sid: string, jti: string, iat: number, exp: number, datasets?: string): Promise<string> {
    const claims: JWTPayload = { type, sid };
    if (datasets !== undefined) claims.datasets = datasets;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(await this.#key);
  }

  /** Signature, algorithm, claims, dates and type: everything but revocation. */
  async #decode(token: unknown, accept: readonly TokenType[]): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) throw refused('malformed', 'not a JSON Web Token');
    const now = this.#now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.#key, {
        algorithms: ['HS512'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'jti', 'sid', 'iat', 'exp', 'type'],
        currentDate: new Date(now),
        clockTolerance: this.#leeway,
      }));
    } catch (err) {
      throw refusalOf(err);
    }
    const { sub, jti, sid, iat, exp, type, datasets } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT) throw refused('claims', 'bad "sub" claim');
    if (typeof jti !== 'string' || !ID.test(jti)) throw refused('claims', 'bad "jti" claim');
    if (typeof sid !== 'string' || !ID.test(sid)) throw refused('claims', 'bad "sid" claim');
    if (!TYPES.includes(type as TokenType)) throw refused('claims', 'bad "type" claim');
    if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp) || (exp as number) <= (iat as number)) throw refused('claims', 'bad "iat" or "exp" claim');
    if ((iat as number) > now / 1000 + this.#leeway) throw refused('not-yet-valid', 'issued in the future');
    if (!accept.includes(type as TokenType)) throw new InvalidTokenError('wrong-type', `Invalid token: an "${String(type)}" token cannot be used here (${accept.join(' or ')} expected)`);
    const verified: VerifiedToken = { sub, type: type as TokenType, jti, sid, iat: iat as number, exp: exp as number };
    if (datasets !== undefined) {
      if (type !== 'api' || typeof datasets !== 'string') throw refused('claims', 'bad "datasets" claim');
      try {
        verified.datasets = parseDatasetScope(datasets);
      } catch {
        throw refused('claims', 'bad "datasets" claim');
      }
    }
    return verified;
  }

  async #assertLive(token: VerifiedToken): Promise<void> {
    if (await this.#ledger.isRevoked(token.sid)) throw new InvalidTokenError('revoked', 'Token revoked');
  }

  /**
   * The token of a request, checked: signature (HS512 with our key only), claims, dates, type
   * (`accept`: access and API tokens by default) and revocation (one HEAD, or the cache).
   */
  async authenticate(token: unknown, accept: readonly TokenType[] = ['access', 'api']): Promise<VerifiedToken> {
    const verified = await this.#decode(token, accept);
    await this.#assertLive(verified);
    return verified;
  }

  /** A new session for `sub` (after its password was checked): an access and a refresh token. Beyond `sessionsPerUser`, the user's oldest sessions are revoked. */
  async login(sub: string): Promise<TokenPair> {
    checkSubject(sub);
    const iat = this.#nowS();
    const sid = newId();
    const pair = await this.#pair(sub, sid, iat);
    await this.#ledger.addIssued('sessions', sub, iat, pair.refreshExpiresAt, sid);
    await this.#enforceLimit(sub, sid);
    this.#maybePrune();
    return pair;
  }

  async #pair(sub: string, sid: string, iat: number): Promise<TokenPair> {
    const accessExpiresAt = iat + this.#accessTtl;
    const refreshExpiresAt = iat + this.#refreshTtl;
    const [accessToken, refreshToken] = await Promise.all([
      this.#sign('access', sub, sid, newId(), iat, accessExpiresAt),
      this.#sign('refresh', sub, sid, newId(), iat, refreshExpiresAt),
    ]);
    return { accessToken, refreshToken, accessExpiresAt, refreshExpiresAt };
  }

  /** Revokes the user's oldest live sessions beyond the limit, and forgets the records of ended ones. */
  async #enforceLimit(sub: string, keep: string): Promise<void> {
    const nowS = this.#nowS();
    const live: Issued[] = [];
    await mapLimit(await this.#ledger.listIssued('sessions', sub), 8, async (s) => {
      if (s.exp + this.#leeway < nowS || (s.id !== keep && (await this.#ledger.isRevoked(s.id)))) await this.#ledger.removeIssued(s.key);
      else live.push(s);
    });
    live.sort((a, b) => a.iat - b.iat || (a.id < b.id ? -1 : 1));
    const excess = live.filter((s) => s.id !== keep).slice(0, Math.max(0, live.length - this.#sessionsPerUser));
    await mapLimit(excess, 8, async (s) => {
      await this.#ledger.revoke({ sid: s.id, sub, exp: s.exp, revokedAt: nowS, reason: 'session-limit' });
      await this.#ledger.removeIssued(s.key);
    });
  }

  /**
   * A new pair for a refresh token, which is revoked with its access token (rotation). Exactly
   * one exchange of a refresh token succeeds, whichever process serves it (the revocation is a
   * create-only put); using it again is refused ('reused'), and if that happens more than 30 s
   * after the exchange, the sessions it was exchanged for are revoked too (it was stolen).
   */
  async refresh(refreshToken: unknown): Promise<TokenPair> {
    const old = await this.#decode(refreshToken, ['refresh']);
    if (await this.#ledger.isRevoked(old.sid)) throw await this.#reused(old);
    const iat = this.#nowS();
    const sid = newId();
    const nextExp = iat + this.#refreshTtl;
    const won = await this.#ledger.revoke({ sid: old.sid, sub: old.sub, exp: old.exp, revokedAt: iat, reason: 'rotated', next: sid, nextExp });
    if (!won) throw new InvalidTokenError('reused', 'Invalid token: this refresh token was used already');
    const pair = await this.#pair(old.sub, sid, iat);
    await this.#ledger.addIssued('sessions', old.sub, iat, pair.refreshExpiresAt, sid);
    await this.#ledger.removeIssued(issuedKey('sessions', old.sub, old.iat, old.exp, old.sid));
    this.#maybePrune();
    return pair;
  }

  /** The refusal of a revoked refresh token; a rotated one used again late also revokes what it was exchanged for. */
  async #reused(old: VerifiedToken): Promise<InvalidTokenError> {
    let record = await this.#ledger.revocation(old.sid);
    if (record?.reason !== 'rotated') return new InvalidTokenError('revoked', 'Token revoked');
    const nowS = this.#nowS();
    if (nowS - record.revokedAt > REUSE_GRACE_S) {
      // Follow the exchanges made since, revoking the first session still live.
      for (let i = 0; i < 64 && record?.reason === 'rotated' && typeof record.next === 'string' && ID.test(record.next); i++) {
        const next: string = record.next;
        const created = await this.#ledger.revoke({ sid: next, sub: old.sub, exp: record.nextExp ?? nowS + this.#refreshTtl, revokedAt: nowS, reason: 'reuse' });
        if (created) break;
        record = await this.#ledger.revocation(next);
      }
    }
    return new InvalidTokenError('reused', 'Invalid token: this refresh token was used already');
  }

  /**
   * Revokes what a token belongs to: an access or refresh token ends its session, both tokens
   * (logout); an API token ends itself. Idempotent. The token must be one of ours and unexpired.
   */
  async revoke(token: unknown): Promise<void> {
    const t = await this.#decode(token, TYPES);
    const nowS = this.#nowS();
    if (t.type === 'api') {
      await this.#ledger.revoke({ sid: t.sid, sub: t.sub, exp: t.exp, revokedAt: nowS, reason: 'revoked' });
      await this.#ledger.removeIssued(issuedKey('api', t.sub, t.iat, t.exp, t.jti));
    } else {
      // The session's end is its refresh token's: known from a refresh token, else from its record.
      const record = t.type === 'refresh' ? undefined : (await this.#ledger.listIssued('sessions', t.sub)).find((s) => s.id === t.sid);
      const exp = t.type === 'refresh' ? t.exp : (record?.exp ?? t.iat + Math.max(this.#refreshTtl, this.#accessTtl));
      await this.#ledger.revoke({ sid: t.sid, sub: t.sub, exp, revokedAt: nowS, reason: 'logout' });
      await this.#ledger.removeIssued(record?.key ?? issuedKey('sessions', t.sub, t.iat, exp, t.sid));
    }
    this.#maybePrune();
  }

  /** Revokes every session and API token of `sub` (a password change, an account removed); says how many. */
  async revokeUser(sub: string): Promise<number> {
    checkSubject(sub);
    const nowS = this.#nowS();
    const issued = [...(await this.#ledger.listIssued('sessions', sub)), ...(await this.#ledger.listIssued('api', sub))];
    await mapLimit(issued, 8, async (s) => {
      if (s.exp + this.#leeway >= nowS) await this.#ledger.revoke({ sid: s.id, sub, exp: s.exp, revokedAt: nowS, reason: 'revoked' });
      await this.#ledger.removeIssued(s.key);
    });
    return issued.length;
  }

  /**
   * An API token for `sub`: `ttl` seconds (apiTtl by default, at most maxApiTtl), limited to
   * `datasets` when given (plantdb's string or object; see parseDatasetScope).
   */
  async issueApiToken(sub: string, opts: { ttl?: number; datasets?: string | Readonly<Record<string, readonly string[]>> } = {}): Promise<{ token: string; jti: string; expiresAt: number }> {
    checkSubject(sub);
    const ttl = wholeNumber(opts.ttl, this.#apiTtl, 'API token lifetime');
    if (ttl > this.#maxApiTtl) throw new InvalidArgumentError(`Invalid API token lifetime: at most ${this.#maxApiTtl} s`);
    let datasets: string | undefined;
    if (opts.datasets !== undefined) {
      const scope = parseDatasetScope(opts.datasets);
      if (scope.size === 0) throw new InvalidArgumentError('Invalid datasets: at least one dataset pattern (leave datasets out for a token not limited to some)');
      datasets = formatDatasetScope(scope);
    }
    const iat = this.#nowS();
    const jti = newId();
    const expiresAt = iat + ttl;
    const token = await this.#sign('api', sub, jti, jti, iat, expiresAt, datasets);
    await this.#ledger.addIssued('api', sub, iat, expiresAt, jti, datasets === undefined ? {} : { datasets });
    this.#maybePrune();
    return { token, jti, expiresAt };
  }

  /**
   * Deletes the revocation records whose tokens have all expired (10 min after, for clocks
   * behind ours); says how many. Runs by itself at most every `pruneIntervalMs`, after a login,
   * refresh, revocation or API token.
   */
  async prune(): Promise<number> {
    this.#lastPrune = this.#now();
    const keepS = this.#leeway + PRUNE_MARGIN_S;
    return this.#ledger.prune(this.#nowS(), { keepS, youngS: this.#refreshTtl + keepS, oldS: Math.max(this.#refreshTtl, this.#maxApiTtl) + keepS });
  }

  #maybePrune(): void {
    if (this.#pruneIntervalMs === 0 || this.#now() - this.#lastPrune < this.#pruneIntervalMs) return;
    this.prune().catch(this.#onError);
  }
}
