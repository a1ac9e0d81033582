/**
 * Password hashes as plantdb keeps them: argon2id PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
 * made with argon2-cffi's `PasswordHasher()` defaults (RFC 9106's low-memory profile: 64 MiB,
 * 3 passes, 4 lanes, 16-byte salt, 32-byte hash), and any argon2id string verified whatever its
 * parameters (Debian's argon2-cffi 21.1 writes m=102400,t=2,p=8 with a 16-byte hash).
 */
import { hash, verify } from '@node-rs/argon2';
import { InvalidArgumentError } from '@romi/db-core';

/** argon2-cffi's PasswordHasher() defaults (21.2 and later). */
export const ARGON2_DEFAULTS = { memoryCost: 65536, timeCost: 3, parallelism: 4, outputLen: 32 } as const;

export type HashParams = { memoryCost: number; timeCost: number; parallelism: number };

/** Passwords longer than this (UTF-8 bytes) are refused: argon2 reads the whole input. */
const MAX_PASSWORD_BYTES = 1024;
/** Shorter passwords (in characters) are refused, except plantdb's public `guest` account's. */
const MIN_PASSWORD_LENGTH = 8;

/**
 * Bounds on the parameters of a stored hash: a users.json edited by hand (or by an attacker who
 * can write it) must not make one login allocate gigabytes or run for minutes.
 */
const MAX_STORED = { memoryCost: 1 << 20, timeCost: 64, parallelism: 64 };

const PHC = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{11,}$/;

/** Argon2 runs on libuv's thread pool, which file I/O shares: at most this many at once. */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Why a new password cannot be used, or undefined. */
export function passwordProblem(password: unknown, opts: { allowShort?: boolean } = {}): string | undefined {
  if (typeof password !== 'string') return 'a password is a string';
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return `a password is at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`;
  if (!opts.allowShort && [...password].length < MIN_PASSWORD_LENGTH) return `a password has at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length === 0) return 'a password is not empty';
  return undefined;
}

/** The argon2id PHC string of a password (checked by `passwordProblem` first). */
export async function hashPassword(password: string, params: HashParams = ARGON2_DEFAULTS): Promise<string> {
  const problem = passwordProblem(password, { allowShort: true });
  if (problem) throw new InvalidArgumentError(`Invalid password: ${problem}`);
  return limited(() => hash(password, { ...params, outputLen: ARGON2_DEFAULTS.outputLen }));
}

/**
 * Whether `password` matches the stored PHC string. False, without hashing, for a password
 * beyond MAX_PASSWORD_BYTES, and for a stored string that is not argon2id or whose parameters are
 * beyond reason.
 */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  if (typeof password !== 'string' || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  const m = PHC.exec(stored);
  if (!m) return false;
  const [memoryCost, timeCost, parallelism] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (memoryCost > MAX_STORED.memoryCost || timeCost > MAX_STORED.timeCost || parallelism > MAX_STORED.parallelism) return false;
  if (timeCost < 1 || parallelism < 1 || memoryCost < 8 * parallelism) return false;
  try {
    return await limited(() => verify(stored, password));
  } catch {
    return false;
  }
}
