/**
 * Fault injection, the way SQLite tests its I/O: the k-th I/O call of an operation fails, for
 * every k from 1 to the number of calls the operation makes. Two places to inject:
 *
 * - `FaultyBackend` wraps any Backend (get, getStream, put, head, delete, list, inspectLock).
 * - `faultyFs` wraps a Node-compatible `fs` (node:fs or memfs) under the fs backend: its
 *   promise methods, the methods of the file handles they open, and its synchronous calls.
 *
 * Faults: ENOSPC, EIO, EACCES (the call fails before it acts); "short" (a write stores half
 * its bytes: a partial write() that callers must continue, a writeFile() that then fails with
 * ENOSPC, a stream that breaks halfway); "lost" (the call acts, then reports EIO: an answer
 * lost on the network, a backend that cannot tell whether its write landed).
 */
import {
  iterateBody,
  StorageError,
  type Backend,
  type BackendCapabilities,
  type Body,
  type GetStreamOptions,
  type Key,
  type ListEntry,
  type ListOptions,
  type LockHandle,
  type LockOptions,
  type ObjectMeta,
  type PutOptions,
  type SignalOptions,
  type StoredObject,
} from '@romi/db-core';

export type FaultKind = 'ENOSPC' | 'EIO' | 'EACCES' | 'short' | 'lost';

const ERRNO: Record<string, number> = { ENOSPC: -28, EIO: -5, EACCES: -13 };

/** An error as Node's fs reports it. */
export function errnoError(code: 'ENOSPC' | 'EIO' | 'EACCES', syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${syscall}`), { code, errno: ERRNO[code], syscall });
}

/** Counts I/O calls and fails the one it is armed for. */
export class FaultPlan {
  calls = 0;
  /** The calls seen while counting (`count()`), in order. */
  log: string[] = [];
  /** The call to fail (1-based); 0 counts without failing; -1 is off. */
  #at = -1;
  #kind: FaultKind = 'EIO';
  /** The fault that fired, with the call it hit ("put s/files.json"), once it has. */
  fired: string | undefined;

  arm(at: number, kind: FaultKind): void {
    this.calls = 0;
    this.log = [];
    this.#at = at;
    this.#kind = kind;
    this.fired = undefined;
  }

  /** Counts calls without failing any. */
  count(): void {
    this.arm(0, 'EIO');
  }

  /** Stops counting and failing. */
  disarm(): void {
    this.#at = -1;
  }

  /** Called before each I/O call; returns the fault to apply to this one, if any. */
  next(call: string): FaultKind | undefined {
    this.calls++;
    if (this.#at === 0) this.log.push(call);
    if (this.calls !== this.#at) return undefined;
    this.fired = `${this.#kind} at ${call}`;
    return this.#kind;
  }
}

/** Whether a fault of `kind` does something of its own at `call` ("short" needs a write or a stream). */
export function faultApplies(kind: FaultKind, call: string): boolean {
  return kind !== 'short' || /^(put |getStream )|\.(write|writeFile)\(/.test(call);
}

/** The error a failing call of kind `kind` throws (lost and short end in these too). */
function failure(kind: FaultKind, call: string): NodeJS.ErrnoException {
  return errnoError(kind === 'lost' || kind === 'short' ? (kind === 'short' ? 'ENOSPC' : 'EIO') : kind, call);
}

// ---------------------------------------------------------------- backend level

/** A body that yields half of `body`'s bytes, then fails: a write torn halfway. */
async function* halfThenFail(body: Body, size: number | undefined, call: string): AsyncIterable<Uint8Array> {
  let sent = 0;
  const half = size === undefined ? 1 : Math.floor(size / 2);
  for await (const chunk of iterateBody(body)) {
    if (sent + chunk.byteLength > half) {
      yield chunk.subarray(0, Math.max(0, half - sent));
      throw failure('short', call);
    }
    sent += chunk.byteLength;
    yield chunk;
  }
  throw failure('short', call);
}

/** A stream that delivers half of `stream`, then errors. */
function breakHalfway(stream: ReadableStream<Uint8Array>, size: number, call: string): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done || sent + value.byteLength > size / 2) {
        await reader.cancel().catch(() => {});
        controller.error(new StorageError(`Storage error: ${call}`, { cause: failure('short', call) }));
        return;
      }
      sent += value.byteLength;
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Any backend, whose calls fail as `plan` says. Backends report I/O failures as StorageError. */
export class FaultyBackend implements Backend {
  constructor(
    readonly inner: Backend,
    readonly plan: FaultPlan,
  ) {}

  get url(): string {
    return this.inner.url;
  }
  get capabilities(): BackendCapabilities {
    return this.inner.capabilities;
  }

  /** Runs `act` under the plan: fails before it, or (lost) after it. */
  async #call<T>(call: string, act: () => Promise<T>, kind = this.plan.next(call)): Promise<T> {
    if (kind === undefined) return act();
    // Only writes and streams can be cut short; any other call simply fails.
    if (kind === 'short') kind = 'EIO';
    const error = () => new StorageError(`Storage error on ${call}: ${kind === 'lost' ? 'EIO' : kind}`, { cause: failure(kind, call) });
    if (kind !== 'lost') throw error();
    await act();
    throw error();
  }

  get(key: Key, opts?: SignalOptions): Promise<StoredObject> {
    return this.#call(`get ${key}`, () => this.inner.get(key, opts));
  }

  async getStream(key: Key, opts?: GetStreamOptions): Promise<{ stream: ReadableStream<Uint8Array>; meta: ObjectMeta }> {
    const call = `getStream ${key}`;
    const kind = this.plan.next(call);
    if (kind !== undefined && kind !== 'short' && kind !== 'lost') throw new StorageError(`Storage error on ${call}: ${kind}`, { cause: failure(kind, call) });
    const got = await this.inner.getStream(key, opts);
    if (kind === undefined) return got;
    // The bytes streamed: the whole object, or the part of it the range holds.
    const { start = 0, end = got.meta.size } = opts?.range ?? {};
    return { stream: breakHalfway(got.stream, Math.max(0, Math.min(end, got.meta.size) - start), call), meta: got.meta };
  }

  async put(key: Key, body: Body, opts?: PutOptions): Promise<ObjectMeta> {
    const call = `put ${key}`;
    const kind = this.plan.next(call);
    if (kind === 'short') {
      // Half the body goes out, then the write fails: storage must keep the old object.
      const size = body instanceof Uint8Array ? body.byteLength : opts?.size;
      return this.inner.put(key, halfThenFail(body, size, call), opts);
    }
    return this.#call(call, () => this.inner.put(key, body, opts), kind);
  }

  head(key: Key, opts?: SignalOptions): Promise<ObjectMeta | undefined> {
    return this.#call(`head ${key}`, () => this.inner.head(key, opts));
  }

  delete(key: Key, opts?: SignalOptions): Promise<void> {
    return this.#call(`delete ${key}`, () => this.inner.delete(key, opts));
  }

  async *list(prefix: Key | '', opts?: ListOptions): AsyncIterable<ListEntry> {
    const call = `list ${prefix}`;
    const kind = this.plan.next(call);
    if (kind !== undefined) {
      if (kind === 'lost') for await (const _ of this.inner.list(prefix, opts)) break;
      throw new StorageError(`Storage error on ${call}: ${kind}`, { cause: failure(kind, call) });
    }
    yield* this.inner.list(prefix, opts);
  }

  lock(name: string, opts?: LockOptions): Promise<LockHandle> {
    return this.inner.lock(name, opts);
  }

  inspectLock(name: string, opts?: SignalOptions & { staleMs?: number }) {
    if (!this.inner.inspectLock) return Promise.resolve(undefined);
    return this.#call(`inspectLock ${name}`, () => this.inner.inspectLock!(name, opts));
  }

  forceUnlock(name: string): Promise<void> {
    return this.inner.forceUnlock?.(name) ?? Promise.resolve();
  }

  localPath(key: Key): string | undefined {
    return this.inner.localPath?.(key);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

// ---------------------------------------------------------------- fs level

type AnyFn = (...args: unknown[]) => unknown;

/** Half of a write's bytes, as the arguments of the same call. */
function halfArgs(args: unknown[]): unknown[] {
  const [first, second, ...rest] = args;
  // writeSync(fd, buffer, offset?, length?, position?): as handle.write after the descriptor
  if (typeof first === 'number' && second instanceof Uint8Array) return [first, ...halfArgs([second, ...rest])];
  // handle.write(buffer, offset?, length?) / handle.writeFile(data) / promises.writeFile(path, data)
  if (first instanceof Uint8Array) {
    const offset = typeof second === 'number' ? second : 0;
    const length = typeof rest[0] === 'number' ? (rest[0] as number) : first.byteLength - offset;
    return [first, offset, Math.floor(length / 2), ...rest.slice(1)];
  }
  if (second instanceof Uint8Array) return [first, second.subarray(0, Math.floor(second.byteLength / 2)), ...rest];
  if (typeof second === 'string') return [first, second.slice(0, Math.floor(second.length / 2)), ...rest];
  return args;
}

/**
 * What a call named `name` (its promise name) does when armed with `kind`: its own act; half its
 * bytes, answered (a partial write: legal, and the caller must write the rest); half its bytes,
 * then a failure; its act, then a failure (a lost answer); or a failure alone.
 */
function effectOf(kind: FaultKind | undefined, name: string): 'act' | 'half' | 'half, then fail' | 'act, then fail' | 'fail' {
  if (kind === undefined) return 'act';
  if (kind === 'short' && name === 'write') return 'half';
  if (kind === 'short' && (name === 'writeFile' || name === 'appendFile')) return 'half, then fail';
  return kind === 'lost' ? 'act, then fail' : 'fail';
}

/** Wraps the methods of `target` so that each call goes through `plan` first. */
function wrapMethods<T extends object>(target: T, plan: FaultPlan, where: string, after?: (name: string, result: unknown) => unknown): T {
  return new Proxy(target, {
    get(t, name, receiver) {
      const value = Reflect.get(t, name, receiver) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return async (...args: unknown[]) => {
        const call = `${where}.${name}(${typeof args[0] === 'string' ? args[0] : ''})`;
        const kind = plan.next(call);
        const effect = effectOf(kind, name);
        if (effect === 'fail') throw failure(kind!, call);
        const whole = effect === 'act' || effect === 'act, then fail';
        const result = await (value as AnyFn).apply(t, whole ? args : halfArgs(args));
        if (effect.endsWith('then fail')) throw failure(kind!, call);
        return whole && after ? after(name, result) : result;
      };
    },
  });
}

/**
 * A copy of the fs module `base` (node:fs or a memfs fs) whose promise API and file handles
 * fail as `plan` says. The callback API (used by the lock library) is left alone.
 */
export function faultyFs<F extends { promises: object }>(base: F, plan: FaultPlan): F {
  const promises = wrapMethods(base.promises, plan, 'fs', (name, result) =>
    name === 'open' && result && typeof result === 'object' ? wrapMethods(result as object, plan, 'handle') : result,
  );
  return new Proxy(base, {
    get(t, name, receiver) {
      if (name === 'promises') return promises;
      const value = Reflect.get(t, name, receiver) as unknown;
      return typeof name === 'string' && name.endsWith('Sync') && typeof value === 'function' ? wrapSync(t, name, value as AnyFn, plan) : value;
    },
  });
}

/** A synchronous call of `fs` (what the fs backend's `syncIO` makes), failing as `plan` says. */
function wrapSync(fs: object, name: string, fn: AnyFn, plan: FaultPlan): AnyFn {
  return (...args: unknown[]) => {
    const call = `fs.${name}(${typeof args[0] === 'string' ? args[0] : ''})`;
    const kind = plan.next(call);
    const effect = effectOf(kind, name.slice(0, -'Sync'.length));
    if (effect === 'fail') throw failure(kind!, call);
    const result = fn.apply(fs, effect === 'act' || effect === 'act, then fail' ? args : halfArgs(args));
    if (effect.endsWith('then fail')) throw failure(kind!, call);
    return result;
  };
}
