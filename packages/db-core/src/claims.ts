/**
 * Ownership: a create* call claims a name only where storage holds nothing under it, and the
 * undo of a failed operation removes only what that operation wrote. So romidb never
 * overwrites or deletes what it did not write itself (a folder that is not a scan, orphan
 * metadata, unlisted data).
 */
import type { Backend, SignalOptions } from './backend.js';
import { toKey, type Key } from './key.js';
import { ErrorCodes, isRomiError, OccupiedError } from './errors.js';

/**
 * The first thing stored where the folder `folder` ("scan/", "scan/fileset/") would be: an
 * object named like the folder, or any object below it. Empty folders hold nothing.
 */
async function occupantOf(backend: Backend, folder: Key, signal?: AbortSignal): Promise<string | undefined> {
  const plain = toKey(folder.slice(0, -1));
  if (await backend.head(plain, { signal })) return plain;
  for await (const entry of backend.list(folder, { signal })) {
    if (entry.kind === 'object' && !entry.key.endsWith('/')) return entry.key;
  }
  return undefined;
}

/** Throws OccupiedError unless nothing is stored in `folders` nor at `objects`. */
export async function assertVacant(backend: Backend, what: string, places: { folders?: Key[]; objects?: Key[] }, { signal }: SignalOptions = {}): Promise<void> {
  for (const key of places.objects ?? []) {
    if (await backend.head(key, { signal })) throw new OccupiedError(what, key);
  }
  for (const folder of places.folders ?? []) {
    const found = await occupantOf(backend, folder, signal);
    if (found !== undefined) throw new OccupiedError(what, found);
  }
}

/** Removes the folder `folder` if no object is stored below it (it was made for a claim that failed). */
export async function removeFolderIfEmpty(backend: Backend, folder: Key): Promise<void> {
  if ((await occupantOf(backend, folder)) === undefined) await backend.delete(folder);
}

/** A create-only put: OccupiedError (not a bare condition failure) when the key is taken. */
export async function putNew(put: () => Promise<string>, what: string, key: Key): Promise<string> {
  try {
    return await put();
  } catch (err) {
    if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new OccupiedError(what, key);
    throw err;
  }
}

/** The undo steps of one operation, run in reverse order if it fails. */
export class Undo {
  #steps: Array<() => Promise<unknown>> = [];

  push(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  /**
   * Runs `write`, which creates something that `remove` takes back. The removal is recorded
   * before the write: a write that landed but reported a failure (a lost answer) is undone too.
   * It is dropped when the write finds its place taken (ROMI_ALREADY_EXISTS, a condition
   * failure): what is there is not this operation's.
   */
  async created<T>(remove: () => Promise<unknown>, write: () => Promise<T>): Promise<T> {
    this.#steps.push(remove);
    try {
      return await write();
    } catch (err) {
      if (isRomiError(err, ErrorCodes.ALREADY_EXISTS) || isRomiError(err, ErrorCodes.CONDITION_FAILED)) this.#steps.splice(this.#steps.lastIndexOf(remove), 1);
      throw err;
    }
  }

  /**
   * Runs `work`; if it throws, undoes what it recorded and rethrows its error. Undo is best
   * effort: a step that fails leaves its key in place (a state check() reports). Nothing is
   * undone once the writer lock is lost: another writer may own those keys now.
   */
  static async run<T>(assertWritable: () => void, work: (undo: Undo) => Promise<T>): Promise<T> {
    const undo = new Undo();
    try {
      return await work(undo);
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.LOCK_LOST)) {
        for (const step of undo.#steps.reverse()) {
          try {
            assertWritable();
            await step();
          } catch {
            break;
          }
        }
      }
      throw err;
    }
  }
}
