/**
 * Every error romidb throws on purpose is a RomiError with a stable `code`.
 * Match on `code` (or use `isRomiError`), never on the message text.
 */
export const ErrorCodes = {
  NOT_A_DATABASE: 'ROMI_NOT_A_DATABASE',
  DB_BUSY: 'ROMI_DB_BUSY',
  NOT_CONNECTED: 'ROMI_NOT_CONNECTED',
  READ_ONLY: 'ROMI_READ_ONLY',
  NOT_FOUND: 'ROMI_NOT_FOUND',
  ALREADY_EXISTS: 'ROMI_ALREADY_EXISTS',
  INVALID_ID: 'ROMI_INVALID_ID',
  INVALID_METADATA: 'ROMI_INVALID_METADATA',
  CORRUPT: 'ROMI_CORRUPT',
  CONDITION_FAILED: 'ROMI_CONDITION_FAILED',
  NOT_SUPPORTED: 'ROMI_NOT_SUPPORTED',
  INVALID_ARGUMENT: 'ROMI_INVALID_ARGUMENT',
  INVALID_KEY: 'ROMI_INVALID_KEY',
  LOCK_LOST: 'ROMI_LOCK_LOST',
  ABORTED: 'ROMI_ABORTED',
  STORAGE: 'ROMI_STORAGE',
  /** A login refused: unknown user, wrong password (accounts of `romidb serve`). */
  INVALID_CREDENTIALS: 'ROMI_INVALID_CREDENTIALS',
  /** A login refused because the account is locked (failed attempts, or by an administrator). */
  ACCOUNT_LOCKED: 'ROMI_ACCOUNT_LOCKED',
  /** A token refused: malformed, not HS512, wrong key or claims, expired, revoked (tokens of `romidb serve`). */
  INVALID_TOKEN: 'ROMI_INVALID_TOKEN',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

// A registry-wide symbol, so that two copies of this package recognise each other's errors.
const kRomiError = Symbol.for('@romi/db-core/RomiError');

export interface RomiErrorOptions {
  cause?: unknown;
  /** The storage key or object path the error is about, when there is one. */
  key?: string;
}

export class RomiError extends Error {
  readonly code: ErrorCode;
  readonly key?: string;

  constructor(code: ErrorCode, message: string, opts: RomiErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.key !== undefined) this.key = opts.key;
    this.name = new.target.name;
    Object.defineProperty(this, kRomiError, { value: true });
  }
}

export function isRomiError(err: unknown, code?: ErrorCode | string): err is RomiError {
  if (typeof err !== 'object' || err === null) return false;
  if (!(kRomiError in err) && !(err instanceof RomiError)) return false;
  return code === undefined || (err as RomiError).code === code;
}

export class NotADatabaseError extends RomiError {
  constructor(url: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.NOT_A_DATABASE, `Not a romidb database: ${url} (the "romidb" marker is missing)`, opts);
  }
}
export class DBBusyError extends RomiError {
  constructor(message: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.DB_BUSY, message, opts);
  }
}
export class NotConnectedError extends RomiError {
  constructor(url: string) {
    super(ErrorCodes.NOT_CONNECTED, `Database ${url} is not connected; call connect() first`);
  }
}
export class ReadOnlyError extends RomiError {
  constructor(what: string) {
    super(ErrorCodes.READ_ONLY, `Cannot ${what}: the database is connected read-only`);
  }
}

export class NotFoundError extends RomiError {
  constructor(message: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.NOT_FOUND, message, opts);
  }
}
/** A storage key that does not exist (thrown by backends). */
export class KeyNotFoundError extends NotFoundError {
  constructor(key: string, opts?: RomiErrorOptions) {
    super(`No object at key "${key}"`, { ...opts, key });
  }
}
export class ScanNotFoundError extends NotFoundError {
  constructor(scanId: string) {
    super(`Unknown scan "${scanId}"`, { key: scanId });
  }
}
export class FilesetNotFoundError extends NotFoundError {
  constructor(scanId: string, filesetId: string) {
    super(`Unknown fileset "${filesetId}" in scan "${scanId}"`, { key: `${scanId}/${filesetId}` });
  }
}
export class FileNotFoundError extends NotFoundError {
  constructor(path: string, detail = 'unknown file') {
    super(`${detail}: "${path}"`, { key: path });
  }
}

export class AlreadyExistsError extends RomiError {
  constructor(message: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.ALREADY_EXISTS, message, opts);
  }
}
export class ScanExistsError extends AlreadyExistsError {
  constructor(scanId: string) {
    super(`Scan "${scanId}" already exists`, { key: scanId });
  }
}
export class FilesetExistsError extends AlreadyExistsError {
  constructor(scanId: string, filesetId: string) {
    super(`Fileset "${filesetId}" already exists in scan "${scanId}"`, { key: `${scanId}/${filesetId}` });
  }
}
export class FileExistsError extends AlreadyExistsError {
  constructor(path: string) {
    super(`File "${path}" already exists`, { key: path });
  }
}
/**
 * A name whose place in storage already holds something the index does not list (a folder
 * that is not a scan or fileset, orphan metadata, unlisted data): romidb never takes it over,
 * so that nothing it did not write can be overwritten or removed by it.
 */
export class OccupiedError extends AlreadyExistsError {
  constructor(what: string, occupant: string) {
    super(`Cannot create ${what}: "${occupant}" is already stored there and is not romidb's to replace; move it away, or run "check" to see what it is`, { key: occupant });
  }
}

export class InvalidIdError extends RomiError {
  constructor(kind: string, id: unknown, reason: string) {
    super(ErrorCodes.INVALID_ID, `Invalid ${kind} id ${JSON.stringify(String(id)).slice(0, 300)}: ${reason}`);
  }
}
export class InvalidMetadataError extends RomiError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_METADATA, message);
  }
}
export class CorruptDataError extends RomiError {
  constructor(key: string, detail: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.CORRUPT, `Corrupt data at "${key}": ${detail}`, { ...opts, key });
  }
}
export class ConditionFailedError extends RomiError {
  constructor(key: string, detail = 'the object changed since it was read', opts?: RomiErrorOptions) {
    super(ErrorCodes.CONDITION_FAILED, `Conditional write to "${key}" failed: ${detail}`, { ...opts, key });
  }
}
export class NotSupportedError extends RomiError {
  constructor(message: string) {
    super(ErrorCodes.NOT_SUPPORTED, message);
  }
}
export class InvalidArgumentError extends RomiError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_ARGUMENT, message);
  }
}
/** A key that would escape the database root, or that storage cannot hold. */
export class InvalidKeyError extends RomiError {
  constructor(key: string, reason: string) {
    super(ErrorCodes.INVALID_KEY, `Invalid storage key ${JSON.stringify(key)}: ${reason}`, { key });
  }
}
/** The writer lock (or lease) was lost: this writer must stop writing. */
export class LockLostError extends RomiError {
  constructor(message: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.LOCK_LOST, message, opts);
  }
}
export class AbortedError extends RomiError {
  constructor(opts?: RomiErrorOptions) {
    super(ErrorCodes.ABORTED, 'The operation was aborted', opts);
  }
}
/** Any other storage failure (I/O error, network, permissions), with the original as `cause`. */
export class StorageError extends RomiError {
  constructor(message: string, opts?: RomiErrorOptions) {
    super(ErrorCodes.STORAGE, message, opts);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
}
