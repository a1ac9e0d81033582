/**
 * The writer lock on object storage: a lease object `<prefix>/lock`.
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
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ErrorCodes, isRomiError, LockLostError, type LockHandle, type ObjectMeta } from '@romi/db-core';

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

/** The few backend operations a lease needs (S3Backend provides them). */
export interface LeaseStore {
  readonly url: string;
  putLease(name: string, body: Uint8Array, cond: { ifNoneMatch: '*' } | { ifMatch: string }): Promise<ObjectMeta>;
  currentEtag(name: string): Promise<string | undefined>;
  deleteLease(name: string): Promise<void>;
}

export function parseLease(bytes: Uint8Array): LeaseBody | undefined {
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

export function describeLease(lease: LeaseBody): string {
  return `pid ${lease.pid} on ${lease.host}, owner ${lease.owner}, lease expires ${lease.expires}`;
}

/** The safety margin: how long before its written expiry a holder stops trusting its lease. */
export function safetyMargin(leaseMs: number): number {
  return Math.min(Math.max(Math.floor(leaseMs / 5), 100), 5_000);
}

export function newLeaseBody(owner: string, leaseMs: number, version: number, acquired: string): Uint8Array {
  const now = Date.now();
  const body: LeaseBody = {
    tool: 'romidb',
    owner,
    host: hostname(),
    pid: process.pid,
    acquired,
    expires: new Date(now + leaseMs).toISOString(),
    leaseMs,
    version,
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

export function newOwnerId(): string {
  return randomUUID();
}

/** A held lease: renews itself until released or lost. */
export class Lease implements LockHandle {
  readonly owner: string;
  readonly #store: LeaseStore;
  readonly #name: string;
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
  #timer: NodeJS.Timeout;

  constructor(opts: {
    store: LeaseStore;
    name: string;
    owner: string;
    leaseMs: number;
    acquired: string;
    etag: string;
    version: number;
    sentAt: number;
    onLost?: (err: Error) => void;
  }) {
    this.#store = opts.store;
    this.#name = opts.name;
    this.owner = opts.owner;
    this.#leaseMs = opts.leaseMs;
    this.#acquired = opts.acquired;
    this.#etag = opts.etag;
    this.#version = opts.version;
    this.#onLost = opts.onLost;
    this.#deadline = opts.sentAt + opts.leaseMs - safetyMargin(opts.leaseMs);
    this.#timer = setInterval(() => void this.renew(), Math.max(20, Math.floor(opts.leaseMs / 3)));
    this.#timer.unref();
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
      const meta = await this.#store.putLease(this.#name, newLeaseBody(this.owner, this.#leaseMs, version, this.#acquired), { ifMatch: this.#etag });
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
    const current = await this.#store.currentEtag(this.#name);
    if (current !== undefined && current === this.#etag) await this.#store.deleteLease(this.#name);
  }
}

