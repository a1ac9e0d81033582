/**
 * A writer lock over any Backend with conditional writes: a lease object (`lock`).
 *
 * - Taken with a create-only PUT (`If-None-Match: *`): of racing writers exactly one wins.
 * - The body names the holder (owner id, host, pid) and the wall-clock time the lease expires.
 * - The holder renews it every leaseMs/3 with a compare-and-swap PUT (`If-Match` on the ETag
 *   of its last write). A renewal that fails with a failed condition means someone took the
 *   lease over: the lease is lost.
 * - The holder also keeps a local deadline on the monotonic clock: the time it *sent* its last
 *   successful renewal plus leaseMs minus a safety margin. Once past it, assertHeld() throws,
 *   so a process that was frozen (SIGSTOP, a VM pause, a long GC) and resumes after its lease
 *   ran out fails its next write instead of overwriting the new holder's data.
 * - Another writer takes over only once the wall-clock expiry written in the lease has passed,
 *   with a compare-and-swap PUT on the ETag of the expired lease (exactly one taker wins).
 *   This assumes the clocks of the machines differ by less than the safety margin.
 */
import type { Backend, LockHandle, LockInfo, LockOptions, SignalOptions, StoredObject } from './backend.js';
import { DBBusyError, ErrorCodes, isRomiError, LockLostError, throwIfAborted } from './errors.js';
import { toKey, type Key } from './key.js';
import { sleep } from './util.js';

/** What the lease object holds (JSON). */
export interface LeaseBody {
  tool: 'romidb';
  owner: string;
  host: string;
  pid: number;
  acquired: string;
  expires: string;
  leaseMs: number;
  version: number;
}

/** Who takes a lease: written into it, shown to whoever finds it taken. */
export interface LeaseHolder {
  host: string;
  pid: number;
}

function parseLease(bytes: Uint8Array): LeaseBody | undefined {
  try {
    const v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<LeaseBody>;
    if (v && v.tool === 'romidb' && typeof v.owner === 'string' && typeof v.expires === 'string' && !Number.isNaN(Date.parse(v.expires))) {
      return v as LeaseBody;
    }
  } catch {
    // not ours
  }
  return undefined;
}

function describeLease(lease: LeaseBody): string {
  return `pid ${lease.pid} on ${lease.host}, owner ${lease.owner}, lease expires ${lease.expires}`;
}

/** The safety margin: how long before its written expiry a holder stops trusting its lease. */
function safetyMargin(leaseMs: number): number {
  return Math.min(Math.max(Math.floor(leaseMs / 5), 100), 5_000);
}

function newLeaseBody(holder: LeaseHolder, owner: string, leaseMs: number, version: number, acquired: string): Uint8Array {
  const now = Date.now();
  const body: LeaseBody = {
    tool: 'romidb',
    owner,
    host: holder.host,
    pid: holder.pid,
    acquired,
    expires: new Date(now + leaseMs).toISOString(),
    leaseMs,
    version,
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

/** A held lease: renews itself until released or lost. */
class Lease implements LockHandle {
  readonly owner: string;
  readonly #store: Backend;
  readonly #key: Key;
  readonly #holder: LeaseHolder;
  readonly #leaseMs: number;
  readonly #acquired: string;
  readonly #onLost?: (err: Error) => void;
  #etag: string;
  #version: number;
  /** performance.now() after which the lease is no longer trusted. */
  #deadline: number;
  #lost: Error | undefined;
  #released = false;
  #renewing: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval>;

  constructor(opts: {
    store: Backend;
    key: Key;
    holder: LeaseHolder;
    owner: string;
    leaseMs: number;
    acquired: string;
    etag: string;
    version: number;
    sentAt: number;
    onLost?: (err: Error) => void;
  }) {
    this.#store = opts.store;
    this.#key = opts.key;
    this.#holder = opts.holder;
    this.owner = opts.owner;
    this.#leaseMs = opts.leaseMs;
    this.#acquired = opts.acquired;
    this.#etag = opts.etag;
    this.#version = opts.version;
    this.#onLost = opts.onLost;
    this.#deadline = opts.sentAt + opts.leaseMs - safetyMargin(opts.leaseMs);
    this.#timer = setInterval(() => void this.renew(), Math.max(20, Math.floor(opts.leaseMs / 3)));
    // A lease must not keep a process alive on its own (Node timers can be unref'ed).
    (this.#timer as { unref?: () => void }).unref?.();
  }

  get lost(): Error | undefined {
    return this.#lost;
  }

  #lose(err: Error): void {
    if (this.#lost || this.#released) return;
    this.#lost = err;
    clearInterval(this.#timer);
    try {
      this.#onLost?.(err);
    } catch {
      // a listener's failure must not hide the loss
    }
  }

  assertHeld(): void {
    if (!this.#lost && !this.#released && performance.now() >= this.#deadline) {
      this.#lose(new LockLostError(`The writer lease of ${this.#store.url} expired before it could be renewed (this process may have been paused); another writer may hold it now`));
    }
    if (this.#lost) {
      throw new LockLostError(`The writer lease of ${this.#store.url} was lost: ${this.#lost.message}`, { cause: this.#lost });
    }
    if (this.#released) throw new LockLostError(`The writer lease of ${this.#store.url} was released`);
  }

  /** Renews the lease now (the timer calls this every leaseMs/3). Never throws. */
  renew(): Promise<void> {
    if (this.#renewing) return this.#renewing;
    if (this.#lost || this.#released) return Promise.resolve();
    this.#renewing = this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    if (performance.now() >= this.#deadline) {
      this.#lose(new LockLostError(`The writer lease of ${this.#store.url} expired before it could be renewed (this process may have been paused); another writer may hold it now`));
      return;
    }
    const sentAt = performance.now();
    const version = this.#version + 1;
    try {
      const meta = await this.#store.put(this.#key, newLeaseBody(this.#holder, this.owner, this.#leaseMs, version, this.#acquired), { ifMatch: this.#etag });
      if (this.#lost) return;
      this.#etag = meta.etag;
      this.#version = version;
      this.#deadline = sentAt + this.#leaseMs - safetyMargin(this.#leaseMs);
    } catch (err) {
      if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) {
        this.#lose(new LockLostError(`The writer lease of ${this.#store.url} was taken over or removed by someone else`, { cause: err }));
      }
      // Any other failure (network, server): the next tick tries again; the deadline decides.
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    clearInterval(this.#timer);
    await this.#renewing?.catch(() => {});
    const wasLost = this.#lost !== undefined;
    const expired = performance.now() >= this.#deadline;
    this.#released = true;
    // Never delete a lease that may belong to someone else now: once lost or past our
    // deadline it is left alone (an expired lease is taken over at once by the next writer).
    if (wasLost || expired) return;
    const current = await this.#store.head(this.#key).catch(() => undefined);
    if (current !== undefined && current.etag === this.#etag) await this.#store.delete(this.#key);
  }
}

/** How often a waiting writer looks at a lease held by another. */
const POLL_MS = 200;

export interface LeaseOptions extends LockOptions {
  leaseMs: number;
  holder: LeaseHolder;
}

/**
 * Takes the lease `name` of `store`: creates it, or takes over an expired one; waits up to
 * `waitMs` (abortably) while another writer holds it, then DBBusyError. The store must honour
 * conditional writes (ifNoneMatch / ifMatch) against every client.
 */
export async function acquireLease(store: Backend, name: string, opts: LeaseOptions): Promise<LockHandle> {
  throwIfAborted(opts.signal);
  const key = toKey(name);
  const { leaseMs, holder } = opts;
  const owner = globalThis.crypto.randomUUID();
  const deadline = Date.now() + Math.max(0, opts.waitMs ?? 0);
  const take = async (cond: { ifNoneMatch: '*' } | { ifMatch: string }): Promise<Lease | undefined> => {
    const sentAt = performance.now();
    const acquired = new Date().toISOString();
    try {
      const meta = await store.put(key, newLeaseBody(holder, owner, leaseMs, 1, acquired), { ...cond, signal: opts.signal });
      return new Lease({ store, key, holder, owner, leaseMs, acquired, etag: meta.etag, version: 1, sentAt, onLost: opts.onLost });
    } catch (err) {
      if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) return undefined;
      throw err;
    }
  };
  for (;;) {
    const created = await take({ ifNoneMatch: '*' });
    if (created) return created;
    let current: StoredObject;
    try {
      current = await store.get(key, { signal: opts.signal });
    } catch (err) {
      if (isRomiError(err, ErrorCodes.NOT_FOUND)) continue; // released meanwhile: try again
      throw err;
    }
    const lease = parseLease(current.bytes);
    if (!lease) {
      throw new DBBusyError(
        `Database ${store.url} is locked by another tool: the object "${name}" is not a romidb lease. It is never taken over automatically; remove it, or unlock it by force, once no other program uses the database.`,
      );
    }
    if (Date.now() >= Date.parse(lease.expires)) {
      // Expired: take it over, compare-and-swap on the expired lease (one taker wins).
      const taken = await take({ ifMatch: current.meta.etag });
      if (taken) return taken;
      continue;
    }
    const now = Date.now();
    if (now >= deadline) throw new DBBusyError(`Database ${store.url} is busy: another writer holds the lease (${describeLease(lease)})`);
    await sleep(Math.max(10, Math.min(POLL_MS, deadline - now, Date.parse(lease.expires) - now + 5)), opts.signal);
  }
}

/** Who holds the lease `name` of `store`, if anyone (a lock another tool wrote is `foreign`). */
export async function inspectLease(store: Backend, name: string, opts: SignalOptions = {}): Promise<LockInfo | undefined> {
  let current: StoredObject;
  try {
    current = await store.get(toKey(name), opts);
  } catch (err) {
    if (isRomiError(err, ErrorCodes.NOT_FOUND)) return undefined;
    throw err;
  }
  const lease = parseLease(current.bytes);
  const info: LockInfo = lease ? { owner: describeLease(lease), stale: Date.now() >= Date.parse(lease.expires) } : { foreign: true, stale: false };
  if (current.meta.mtime) info.mtime = current.meta.mtime;
  return info;
}
