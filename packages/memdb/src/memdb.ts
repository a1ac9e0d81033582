import { createFsFromVolume, Volume } from 'memfs';
import { MARKER_KEY, registerScheme, RomiDB, type RomiDBOptions } from '@romi/db-core';
import { FsBackend, type FsLike } from '@romi/fsdb';

export interface MemDBOptions extends RomiDBOptions {
  /** Name used in the URL (`memory://<name>`); openDB('memory://<name>') shares one volume per name. */
  name?: string;
  /** Start from this volume instead of an empty one (it must hold the database at /db). */
  volume?: InstanceType<typeof Volume>;
}

const ROOT = '/db';
let counter = 0;

/** A romidb database in memory: the fsdb backend over a memfs volume, marker included. */
export class MemDB extends RomiDB {
  readonly volume: InstanceType<typeof Volume>;

  constructor(opts: MemDBOptions = {}) {
    const volume = opts.volume ?? new Volume();
    if (!opts.volume) {
      volume.mkdirSync(ROOT, { recursive: true });
      volume.writeFileSync(`${ROOT}/${MARKER_KEY}`, '');
    }
    const name = opts.name ?? `db${++counter}`;
    super(new FsBackend(ROOT, { fs: createFsFromVolume(volume) as unknown as FsLike, url: `memory://${name}` }), opts);
    this.volume = volume;
  }

  /** The whole database as { path: content } (paths relative to the root), for tests. */
  toJSON(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const [path, content] of Object.entries(this.volume.toJSON(ROOT))) out[path.slice(ROOT.length + 1)] = content;
    return out;
  }
}

const named = new Map<string, InstanceType<typeof Volume>>();

/** The database of a memory:// URL: one volume per name in this process. */
function openNamed(url: URL): MemDB {
  const name = url.host || url.pathname.replace(/^\/+/, '') || 'default';
  const volume = named.get(name);
  const db = new MemDB({ name, volume });
  if (!volume) named.set(name, db.volume);
  return db;
}

// A memory database holds its marker from the start: init creates nothing.
registerScheme('memory:', { open: openNamed, init: async (url) => ({ db: openNamed(url), created: false }) });
