// Child scripts shared by several packages' tests, to run with spawnProc.

/** A script of ./procs/, next to this file (its .ts source, or the .js built from it). */
function proc(name: string): URL {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./procs/${name}.${ext}`, import.meta.url);
}

/** Streams a file of a given size into a database and back: `<location> <size>` → "ok <sha1 w> <sha1 r> <bytes> <peak rss MB> …". */
export const BIG_FILE = proc('big-file');
