/**
 * The accounts of `romidb serve`, in plantdb 0.15's files at the database root, through the
 * database's Backend (a folder, memory, S3):
 *
 * - `users.json`: a JSON array of plantdb's user records (`username`, `fullname`,
 *   `password_hash` — argon2id —, `roles`, `created_at`, `_extra_permissions`, `last_login`,
 *   `is_active`, `failed_attempts`, `last_failed_attempt`, `locked_until`,
 *   `password_last_change`); fields romidb does not know are kept as they are on every rewrite;
 * - `groups.json`: `{name: {users, description, created_at, created_by}}` (groups.ts).
 *
 * Every change is a conditional write retried on a fresh read (json-file.ts), so that servers
 * and `romidb user …` running at once never lose each other's changes. A file that cannot be
 * read as plantdb's is ROMI_CORRUPT and is never written over.
 *
 * Lock-out is per account: after `maxFailedAttempts` failed logins in a row (3, as plantdb) the
 * account is locked for 15 s, then 30 s, 60 s… for each further failure, at most 15 min; a
 * successful login resets the count. While locked, logins fail with ROMI_ACCOUNT_LOCKED without
 * the password being looked at.
 */
import {
  AlreadyExistsError,
  ErrorCodes,
  InvalidArgumentError,
  isPlainObject,
  KeyedMutex,
  NotFoundError,
  RomiError,
  toPlain,
  type Backend,
} from '@romi/db-core';
import { groupsFile, groupView, type Group, type GroupsDoc } from './groups.js';
import { formatPythonDate, JsonFile, parsePythonDate } from './json-file.js';
import { ARGON2_DEFAULTS, hashPassword, passwordProblem, verifyPassword, type HashParams } from './passwords.js';

export const ROLES = ['reader', 'contributor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** An account as the store shows it: never its password hash. */
export interface Account {
  username: string;
  fullname: string;
  /** The roles romidb knows (plantdb skips others too; they stay in the file). */
  roles: Role[];
  /** plantdb's `_extra_permissions`. */
  extraPermissions: string[];
  isActive: boolean;
  failedAttempts: number;
  createdAt?: Date;
  lastLogin?: Date;
  lastFailedAttempt?: Date;
  lockedUntil?: Date;
  passwordLastChange?: Date;
}

/** A login refused: no such user, or a wrong password (which one is not told). */
export class InvalidCredentialsError extends RomiError {
  constructor(
    /** For logs only: why, never to be shown to the client. */
    readonly reason: 'unknown-user' | 'wrong-password',
  ) {
    super(ErrorCodes.INVALID_CREDENTIALS, 'Invalid credentials');
  }
}

/** A login refused because the account is locked: until `until`, or (no `until`) until an administrator unlocks it. */
export class AccountLockedError extends RomiError {
  constructor(
    username: string,
    readonly until?: Date,
  ) {
    super(ErrorCodes.ACCOUNT_LOCKED, until ? `Account "${username}" is locked until ${until.toISOString()}` : `Account "${username}" is locked`, { key: username });
  }
}

export interface AccountStoreOptions {
  /** Failed logins in a row before the account is locked (plantdb: 3). */
  maxFailedAttempts?: number;
  /** The first lock's length; each further failed login doubles it (15 s). */
  lockoutMs?: number;
  /** The longest lock (15 min, plantdb's only one). */
  maxLockoutMs?: number;
  /** argon2id cost of new hashes (argon2-cffi's defaults; lower only in tests). */
  hashParams?: HashParams;
  /** How long a change waits for another process's change to the same file (local folders). */
  lockWaitMs?: number;
}

/** Usernames: 1–64 of a–z 0–9 _ - ., not starting with `.` or `-` (given in any case, stored lower-cased). */
const USERNAME = /^[a-z0-9_][a-z0-9_.-]{0,63}$/;
const MAX_FULLNAME = 256;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The lower-cased username, or InvalidArgumentError. */
export function checkUsername(name: unknown): string {
  const lower = typeof name === 'string' ? name.toLowerCase() : undefined;
  if (lower === undefined || !USERNAME.test(lower)) {
    throw new InvalidArgumentError(`Invalid username ${JSON.stringify(String(name)).slice(0, 100)}: 1 to 64 letters, digits, "_", "-" or ".", not starting with "." or "-"`);
  }
  return lower;
}

function checkFullname(fullname: unknown): string {
  if (typeof fullname !== 'string' || fullname.length > MAX_FULLNAME || CONTROL.test(fullname)) {
    throw new InvalidArgumentError(`Invalid full name: a text of at most ${MAX_FULLNAME} characters, without control characters`);
  }
  return fullname;
}

function checkRoles(roles: unknown): Role[] {
  if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => !(ROLES as readonly unknown[]).includes(r))) {
    throw new InvalidArgumentError(`Invalid roles ${JSON.stringify(roles)?.slice(0, 100)}: one or more of ${ROLES.join(', ')}`);
  }
  return [...new Set(roles as Role[])];
}

function checkPassword(password: unknown, allowShort = false): string {
  const problem = passwordProblem(password, { allowShort });
  if (problem) throw new InvalidArgumentError(`Invalid password: ${problem}`);
  return password as string;
}

type UserRecord = Record<string, unknown>;

const DATE_FIELDS = ['created_at', 'last_login', 'last_failed_attempt', 'locked_until', 'password_last_change'] as const;

/** Checks a parsed users.json; a problem is thrown as a string (JsonFile makes it ROMI_CORRUPT). */
function parseUsers(tree: unknown): UserRecord[] {
  if (!Array.isArray(tree)) throw 'not a JSON array of users';
  const seen = new Set<string>();
  tree.forEach((u, i) => {
    const where = `user ${i}`;
    if (!isPlainObject(u)) throw `${where} is not an object`;
    if (typeof u.username !== 'string' || u.username === '') throw `${where} has no "username"`;
    if (seen.has(u.username.toLowerCase())) throw `user "${u.username}" is listed twice`;
    seen.add(u.username.toLowerCase());
    if (typeof u.fullname !== 'string') throw `user "${u.username}": "fullname" is not a string`;
    if (typeof u.password_hash !== 'string') throw `user "${u.username}": "password_hash" is not a string`;
    if (!Array.isArray(u.roles)) throw `user "${u.username}": "roles" is not a list`;
    if (u._extra_permissions != null && !Array.isArray(u._extra_permissions)) throw `user "${u.username}": "_extra_permissions" is not a list`;
    if (u.is_active !== undefined && typeof u.is_active !== 'boolean') throw `user "${u.username}": "is_active" is not true or false`;
    const failed = toPlain(u.failed_attempts);
    if (failed !== undefined && !(Number.isSafeInteger(failed) && (failed as number) >= 0)) throw `user "${u.username}": "failed_attempts" is not a count`;
    for (const f of DATE_FIELDS) {
      const v = u[f];
      if ((v === undefined || v === null) && f !== 'created_at') continue;
      if (typeof v !== 'string' || parsePythonDate(v) === undefined) throw `user "${u.username}": "${f}" is not a date`;
    }
  });
  return tree as UserRecord[];
}

const dateOf = (v: unknown): Date | undefined => (typeof v === 'string' ? parsePythonDate(v) : undefined);

function accountOf(u: UserRecord): Account {
  const account: Account = {
    username: u.username as string,
    fullname: u.fullname as string,
    roles: ROLES.filter((r) => (u.roles as unknown[]).includes(r)),
    extraPermissions: ((u._extra_permissions as unknown[] | null | undefined) ?? []).filter((p): p is string => typeof p === 'string'),
    isActive: u.is_active !== false,
    failedAttempts: (toPlain(u.failed_attempts) as number | undefined) ?? 0,
  };
  const dates = { createdAt: 'created_at', lastLogin: 'last_login', lastFailedAttempt: 'last_failed_attempt', lockedUntil: 'locked_until', passwordLastChange: 'password_last_change' } as const;
  for (const [k, f] of Object.entries(dates)) {
    const d = dateOf(u[f]);
    if (d) account[k as keyof typeof dates] = d;
  }
  return account;
}

const find = (users: UserRecord[], username: string): UserRecord | undefined => users.find((u) => (u.username as string).toLowerCase() === username);

/** plantdb's public read-only account, which its clients log in with when they have none. */
const GUEST = { username: 'guest', password: 'guest', fullname: 'PlantDB Guest' };
const DEMO_ADMIN = { username: 'admin', password: 'admin', fullname: 'PlantDB Admin' };

export class AccountStore {
  readonly #users: JsonFile<UserRecord[]>;
  readonly #groups: JsonFile<GroupsDoc>;
  readonly #maxFailed: number;
  readonly #lockoutMs: number;
  readonly #maxLockoutMs: number;
  readonly #hashParams: HashParams;
  /** Logins of one account, one at a time: parallel guesses each see the count the previous one left. */
  readonly #logins = new KeyedMutex();
  #dummyHash?: Promise<string>;

  constructor(backend: Backend, opts: AccountStoreOptions = {}) {
    this.#users = new JsonFile(backend, { name: 'users.json', empty: () => [], parse: parseUsers, serialize: (d) => d, lockWaitMs: opts.lockWaitMs });
    this.#groups = groupsFile(backend, opts.lockWaitMs);
    this.#maxFailed = opts.maxFailedAttempts ?? 3;
    this.#lockoutMs = opts.lockoutMs ?? 15_000;
    this.#maxLockoutMs = opts.maxLockoutMs ?? 15 * 60_000;
    this.#hashParams = opts.hashParams ?? ARGON2_DEFAULTS;
  }

  // ---- users ----

  async listUsers(): Promise<Account[]> {
    return (await this.#users.read()).doc.map(accountOf);
  }

  /** The account, or undefined (the name is looked up lower-cased). */
  async getUser(username: string): Promise<Account | undefined> {
    if (typeof username !== 'string' || username.length > 256) return undefined;
    const u = find((await this.#users.read()).doc, username.toLowerCase());
    return u && accountOf(u);
  }

  /**
   * Creates an account (ROMI_ALREADY_EXISTS if the name is taken). Every input is checked
   * before anything is read or hashed: the username rule, a full name of at most 256
   * characters, a password of 8 characters to 1,024 bytes, roles among reader, contributor, admin.
   */
  async addUser(input: { username: string; fullname?: string; password: string; roles?: Role[] }): Promise<Account> {
    const username = checkUsername(input?.username);
    const fullname = checkFullname(input.fullname ?? username);
    const roles = checkRoles(input.roles ?? ['reader']);
    const password = checkPassword(input.password);
    return this.#create(username, fullname, password, roles);
  }

  /** Creates plantdb's `guest`/`guest` reader account unless it exists; says whether it did. */
  async ensureGuest(): Promise<boolean> {
    return this.#ensure(GUEST, ['reader']);
  }

  /**
   * plantdb's demo administrator, admin/admin, when missing: for tests and demos only (`romidb
   * serve --demo-users`); a database that holds it is open to anyone who knows plantdb.
   */
  async ensureDemoAdmin(): Promise<boolean> {
    return this.#ensure(DEMO_ADMIN, ['admin']);
  }

  async #ensure(user: { username: string; password: string; fullname: string }, roles: Role[]): Promise<boolean> {
    if (await this.getUser(user.username)) return false;
    try {
      await this.#create(user.username, user.fullname, user.password, roles);
      return true;
    } catch (err) {
      if (err instanceof AlreadyExistsError) return false;
      throw err;
    }
  }

  async #create(username: string, fullname: string, password: string, roles: Role[]): Promise<Account> {
    // A name taken already is told before the (slow) hash; it is checked again when writing.
    if (await this.getUser(username)) throw new AlreadyExistsError(`User "${username}" already exists`, { key: username });
    const hash = await hashPassword(password, this.#hashParams);
    return this.#users.update((users) => {
      if (find(users, username)) throw new AlreadyExistsError(`User "${username}" already exists`, { key: username });
      const now = formatPythonDate(new Date());
      const record: UserRecord = {
        username,
        fullname,
        password_hash: hash,
        roles,
        created_at: now,
        _extra_permissions: [],
        last_login: null,
        is_active: true,
        failed_attempts: 0,
        last_failed_attempt: null,
        locked_until: null,
        password_last_change: now,
      };
      users.push(record);
      return { result: accountOf(record), write: true };
    });
  }

  /** Replaces a password (ROMI_NOT_FOUND for an unknown user); the count of failed logins is reset. */
  async setPassword(username: string, password: string): Promise<Account> {
    const name = checkUsername(username);
    checkPassword(password);
    if (!(await this.getUser(name))) throw this.#unknown(name);
    const hash = await hashPassword(password, this.#hashParams);
    return this.#change(name, (u) => {
      u.password_hash = hash;
      u.password_last_change = formatPythonDate(new Date());
      u.failed_attempts = 0;
    });
  }

  /**
   * Locks an account: until `until`, or without it until `unlock` (plantdb's `is_active: false`,
   * which plantdb honours too).
   */
  async lock(username: string, until?: Date): Promise<Account> {
    if (until !== undefined && !(until instanceof Date && Number.isFinite(until.getTime()))) throw new InvalidArgumentError('Invalid lock end: not a date');
    return this.#change(checkUsername(username), (u) => {
      if (until) u.locked_until = formatPythonDate(until);
      else u.is_active = false;
    });
  }

  /** Unlocks an account: active again, no lock, no failed logins counted. */
  async unlock(username: string): Promise<Account> {
    return this.#change(checkUsername(username), (u) => {
      u.is_active = true;
      u.locked_until = null;
      u.failed_attempts = 0;
    });
  }

  /**
   * Checks a login. Returns the account, and records the login (`last_login`, failed count
   * reset); or records the failure (locking the account after too many) and throws
   * InvalidCredentialsError (ROMI_INVALID_CREDENTIALS), or AccountLockedError
   * (ROMI_ACCOUNT_LOCKED) while the account is locked. An unknown user costs the same hash
   * verification as a known one.
   */
  async verifyLogin(username: string, password: string, now: Date = new Date()): Promise<Account> {
    const name = typeof username === 'string' && username.length <= 256 ? username.toLowerCase() : '';
    return this.#logins.run(name, async () => {
      const record = name === '' ? undefined : find((await this.#users.read()).doc, name);
      if (!record) {
        await verifyPassword(await this.#dummy(), typeof password === 'string' ? password : '');
        throw new InvalidCredentialsError('unknown-user');
      }
      const user = accountOf(record);
      if (!user.isActive) throw new AccountLockedError(user.username);
      if (user.lockedUntil && user.lockedUntil > now) throw new AccountLockedError(user.username, user.lockedUntil);
      if (await verifyPassword(record.password_hash as string, password)) {
        return this.#change(name, (u) => {
          u.failed_attempts = 0;
          u.last_login = formatPythonDate(now);
          if (u.locked_until != null && (dateOf(u.locked_until) ?? now) <= now) u.locked_until = null;
        });
      }
      await this.#change(name, (u) => {
        const failed = ((toPlain(u.failed_attempts) as number | undefined) ?? 0) + 1;
        u.failed_attempts = failed;
        u.last_failed_attempt = formatPythonDate(now);
        if (failed >= this.#maxFailed) {
          const ms = Math.min(this.#maxLockoutMs, this.#lockoutMs * 2 ** Math.min(failed - this.#maxFailed, 30));
          u.locked_until = formatPythonDate(new Date(now.getTime() + ms));
        }
      });
      throw new InvalidCredentialsError('wrong-password');
    });
  }

  /** A hash of nothing anyone knows, made once: what an unknown user's password is checked against. */
  #dummy(): Promise<string> {
    return (this.#dummyHash ??= hashPassword(crypto.randomUUID(), this.#hashParams));
  }

  #unknown(username: string): NotFoundError {
    return new NotFoundError(`Unknown user "${username}"`, { key: username });
  }

  /** Changes one user's record (ROMI_NOT_FOUND when absent) and returns the account as written. */
  async #change(username: string, edit: (u: UserRecord) => void): Promise<Account> {
    return this.#users.update((users) => {
      const u = find(users, username);
      if (!u) throw this.#unknown(username);
      edit(u);
      return { result: accountOf(u), write: true };
    });
  }

  // ---- groups ----

  async listGroups(): Promise<Group[]> {
    return [...(await this.#groups.read()).doc].map(([name, g]) => groupView(name, g));
  }

  async getGroup(name: string): Promise<Group | undefined> {
    const g = (await this.#groups.read()).doc.get(name);
    return g && groupView(name, g);
  }

  /**
   * Creates a group (ROMI_ALREADY_EXISTS if the name is taken) whose members are its creator and
   * `users`, all existing accounts (ROMI_NOT_FOUND otherwise), as plantdb's `create_group`.
   */
  async addGroup(input: { name: string; createdBy: string; description?: string; users?: string[] }): Promise<Group> {
    const name = checkGroupName(input?.name);
    const creator = checkUsername(input.createdBy);
    const description = input.description === undefined ? null : checkFullname(input.description);
    const members = [...new Set([creator, ...(input.users ?? []).map(checkUsername)])];
    await this.#assertUsers(members);
    return this.#groups.update((groups) => {
      if (groups.has(name)) throw new AlreadyExistsError(`Group "${name}" already exists`, { key: name });
      const record = { users: members, description, created_at: formatPythonDate(new Date()), created_by: creator };
      groups.set(name, record);
      return { result: groupView(name, record), write: true };
    });
  }

  /** Adds an existing user to an existing group; false when already a member. */
  async addMember(group: string, username: string): Promise<boolean> {
    const name = checkGroupName(group);
    const user = checkUsername(username);
    await this.#assertUsers([user]);
    return this.#groups.update((groups) => {
      const g = groups.get(name);
      if (!g) throw new NotFoundError(`Unknown group "${name}"`, { key: name });
      const users = g.users as string[];
      if (users.includes(user)) return { result: false, write: false };
      users.push(user);
      return { result: true, write: true };
    });
  }

  async #assertUsers(names: string[]): Promise<void> {
    const users = (await this.#users.read()).doc;
    const missing = names.find((n) => !find(users, n));
    if (missing !== undefined) throw this.#unknown(missing);
  }
}

/** Group names: 1–64 of letters, digits, _ - ., not starting with `.` or `-` (kept as given). */
function checkGroupName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new InvalidArgumentError(`Invalid group name ${JSON.stringify(String(name)).slice(0, 100)}: 1 to 64 letters, digits, "_", "-" or ".", not starting with "." or "-"`);
  }
  return name;
}
