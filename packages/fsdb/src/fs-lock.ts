/**
 * The writer lock of a database folder: `<root>/lock`, a folder made by proper-lockfile (mkdir
 * is atomic, its mtime is refreshed while held, a lock not refreshed for `staleMs` is stale),
 * plus `<root>/.romidb-lock.owner` naming the holder (pid, host) so that the lock of a process
 * that died on this host is recovered at once. A plain `lock` FILE is romidata's lock: it is
 * honoured and never taken over.
 */
import nodeFs from 'node:fs';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';
import {
  DBBusyError,
  INTERNAL_PREFIX,
  LockLostError,
  sleep,
  throwIfAborted,
  type LockHandle,
  type LockInfo,
  type LockOptions,
  type SignalOptions,
} from '@romi/db-core';

/** The part of Node's `fs` the lock uses (memfs provides it too). */
type FsLike = typeof nodeFs;

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Turns an fs error into a romidb error naming `name` (the backend's own mapping). */
type WrapError = (err: unknown, name: string) => Error;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Whether `pid` runs on this host: a zombie (killed, not yet reaped) holds nothing any more. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errno(err) === 'EPERM';
  }
  try {
    const stat = nodeFs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** proper-lockfile registers locks in a process-wide table by this path: one key per lock taken. */
let lockKeys = 0;

export class FsLock {
  constructor(
    private readonly fs: FsLike,
    /** The database folder (normalised, absolute). */
    private readonly root: string,
    private readonly url: string,
    private readonly wrap: WrapError,
  ) {}

  #paths(name: string): { lockPath: string; ownerPath: string } {
    return { lockPath: `${this.root}/${name}`, ownerPath: `${this.root}/${INTERNAL_PREFIX}${name}.owner` };
  }

  async #readOwner(ownerPath: string): Promise<LockOwner | undefined> {
    try {
      return JSON.parse(String(await this.fs.promises.readFile(ownerPath, 'utf8'))) as LockOwner;
    } catch {
      return undefined;
    }
  }

  async inspect(name: string, opts: SignalOptions & { staleMs?: number } = {}): Promise<(LockInfo & { ownerDead?: boolean }) | undefined> {
    throwIfAborted(opts.signal);
    const { lockPath, ownerPath } = this.#paths(name);
    let st;
    try {
      st = await this.fs.promises.lstat(lockPath);
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw this.wrap(err, name);
    }
    if (!st.isDirectory()) return { foreign: true, mtime: st.mtime, stale: false };
    const owner = await this.#readOwner(ownerPath);
    const dead = owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !pidAlive(owner.pid);
    const stale = dead || Date.now() - st.mtime.getTime() > (opts.staleMs ?? 10_000);
    return { owner: owner ? `pid ${owner.pid} on ${owner.host} since ${owner.since}` : undefined, stale, ownerDead: dead, mtime: st.mtime };
  }

  async forceUnlock(name: string): Promise<void> {
    const { lockPath, ownerPath } = this.#paths(name);
    await this.fs.promises.rm(lockPath, { recursive: true, force: true });
    await this.fs.promises.rm(ownerPath, { force: true });
  }

  /** Takes the lock, waiting (abortably) up to `waitMs` while another holder has it. */
  async acquire(name: string, opts: LockOptions = {}): Promise<LockHandle> {
    throwIfAborted(opts.signal);
    const { lockPath, ownerPath } = this.#paths(name);
    const staleMs = Math.max(opts.staleMs ?? 10_000, 5_000);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      const info = await this.inspect(name);
      if (info?.foreign) {
        throw new DBBusyError(`Database ${this.url} is locked by another tool: "${lockPath}" is a plain lock file (as romidata writes). It is never taken over automatically; remove it, or call FSDB.forceUnlock(), once no other program uses the database.`);
      }
      // A lock whose owner died on this host is recovered at once; one that is merely old
      // is left to proper-lockfile's own staleness rule.
      if (info?.ownerDead) await this.forceUnlock(name).catch(() => {});
      try {
        return await this.#take(name, lockPath, ownerPath, staleMs, opts);
      } catch (err) {
        if (errno(err) !== 'ELOCKED') throw this.wrap(err, name);
        if (Date.now() >= deadline) {
          const holder = (await this.inspect(name).catch(() => undefined))?.owner;
          throw new DBBusyError(`Database ${this.url} is busy: another writer holds the lock${holder ? ` (${holder})` : ''}`, { cause: err });
        }
        await sleep(Math.min(100, Math.max(10, deadline - Date.now())), opts.signal);
      }
    }
  }

  async #take(name: string, lockPath: string, ownerPath: string, staleMs: number, opts: LockOptions): Promise<LockHandle> {
    let lost: Error | undefined;
    const release = await lockfile.lock(`${this.root}/${INTERNAL_PREFIX}lock-${++lockKeys}`, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 4)),
      retries: 0,
      fs: this.fs as never,
      onCompromised: (err: Error) => {
        lost = err;
        opts.onLost?.(err);
      },
    });
    try {
      // Atomically: a full disk must not leave an empty owner file behind.
      const temp = `${ownerPath}.${process.pid}.tmp`;
      await this.fs.promises.writeFile(temp, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() } satisfies LockOwner)).catch(async (err: unknown) => {
        await this.fs.promises.rm(temp, { force: true }).catch(() => {});
        throw err;
      });
      await this.fs.promises.rename(temp, ownerPath);
    } catch (err) {
      await release().catch(() => {});
      throw this.wrap(err, name);
    }
    return {
      assertHeld: () => {
        if (lost) throw new LockLostError(`The writer lock of ${this.url} was lost: ${lost.message}`, { cause: lost });
      },
      release: async () => {
        await this.fs.promises.rm(ownerPath, { force: true }).catch(() => {});
        await release().catch((err: unknown) => {
          if (!lost && errno(err) !== 'ERELEASED') throw this.wrap(err, name);
        });
      },
    };
  }
}
