import { mkdir, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, MARKER_KEY, LOCK_NAME, registerScheme, RomiDB, StorageError, type RomiDBOptions } from '@romi/db-core';
import { FsBackend, type FsBackendOptions } from './fs-backend.js';

export interface FSDBOptions extends RomiDBOptions, Omit<FsBackendOptions, 'url'> {}

/** A romidb database in a local folder holding the `romidb` marker. */
export class FSDB extends RomiDB {
  readonly path: string;

  constructor(path: string, opts: FSDBOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('FSDB needs the path of a database folder');
    const root = resolve(path);
    super(new FsBackend(root, opts), opts);
    this.path = root;
  }

  /** Creates the folder (if needed) and the `romidb` marker; returns the (unconnected) database. */
  static async init(path: string, opts: FSDBOptions = {}): Promise<FSDB> {
    const root = resolve(path);
    try {
      await mkdir(root, { recursive: true });
      const info = await stat(`${root}/${MARKER_KEY}`).catch(() => undefined);
      if (info && !info.isFile()) throw new InvalidArgumentError(`Cannot make "${root}" a database: "${MARKER_KEY}" there is not a file`);
      if (!info) {
        await writeFile(`${root}/${MARKER_KEY}`, '', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new InvalidArgumentError(`Cannot make "${root}" a database: it, or a folder above it, is a file`);
      if (typeof code === 'string') throw new StorageError(`Cannot make "${root}" a database: ${code}`, { cause: err });
      throw err;
    }
    return new FSDB(root, opts);
  }

  /** Removes the writer lock whoever holds it (ours or a romidata `lock` file). Use with care. */
  static async forceUnlock(path: string): Promise<void> {
    await new FsBackend(resolve(path)).forceUnlock(LOCK_NAME);
  }
}

/** The path of a file: URL; malformed escapes ("%zz") and encoded separators ("%2F") are not paths. */
function pathOf(url: URL): string {
  try {
    return fileURLToPath(url);
  } catch (err) {
    throw new InvalidArgumentError(`Malformed file: URL (${(err as Error).message.replace(/\s+/g, ' ')})`);
  }
}

registerScheme('file:', {
  open: (url) => new FSDB(pathOf(url)),
  init: async (url, opts) => {
    const path = pathOf(url);
    const existed = (await new FsBackend(resolve(path)).head(MARKER_KEY, opts).catch(() => undefined)) !== undefined;
    return { db: await FSDB.init(path), created: !existed };
  },
});
