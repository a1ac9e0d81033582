/**
 * Storage keys: relative POSIX paths inside the database root ("scan/files.json"; a key ending
 * in "/" names a folder). A Key is a string checked once, by `toKey` — which the layout's `keys`
 * call — so that backends take Keys and never parse them again.
 */
import { InvalidKeyError } from './errors.js';

declare const checked: unique symbol;

/** A key that `toKey` accepted. */
export type Key = string & { readonly [checked]: true };

/** Why `path` cannot be a key: it must be relative, POSIX, without empty, "." or ".." segments, "\" or NUL. */
export function keyProblem(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'empty key';
  if (path.startsWith('/')) return 'absolute key';
  if (path.includes('\\') || path.includes('\0')) return 'contains "\\" or NUL';
  // One segment (a name read from a listing): no split.
  if (!path.includes('/')) return path === '.' || path === '..' ? 'empty, "." or ".." path segment' : undefined;
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // A trailing "/" marks a folder key ("scan/fileset/"); empty segments elsewhere are not allowed.
    if (part === '' && i === parts.length - 1 && i > 0) continue;
    if (part === '' || part === '.' || part === '..') return 'empty, "." or ".." path segment';
  }
  return undefined;
}

/** Checks `path` and returns it as a Key; InvalidKeyError when it could leave the root. */
export function toKey(path: string): Key {
  const problem = keyProblem(path);
  if (problem !== undefined) throw new InvalidKeyError(path, problem);
  return path as Key;
}
