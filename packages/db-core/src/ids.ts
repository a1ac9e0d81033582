import { InvalidIdError, InvalidKeyError } from './errors.js';

export type IdKind = 'scan' | 'fileset' | 'file';

const ID_CHARS = /^[A-Za-z0-9_.-]+$/;

/** Names that collide with the layout at each level. */
export const RESERVED_IDS: Readonly<Record<IdKind, ReadonlySet<string>>> = {
  scan: new Set(['romidb', 'lock']),
  fileset: new Set(['metadata', 'files.json', 'measures.json', 'webcache']),
  file: new Set(),
};

/** Why `id` cannot be created as a `kind`, or undefined when it can. */
export function idProblem(kind: IdKind, id: unknown): string | undefined {
  if (typeof id !== 'string') return 'ids are strings';
  if (id.length === 0) return 'ids are not empty';
  if (id.length > 255) return 'ids have at most 255 characters';
  if (!ID_CHARS.test(id)) return 'ids use only letters, digits, "_", "-" and "."';
  if (id.startsWith('.')) return 'ids do not start with "."';
  if (RESERVED_IDS[kind].has(id)) return `"${id}" is reserved`;
  return undefined;
}

export function isValidId(kind: IdKind, id: unknown): id is string {
  return idProblem(kind, id) === undefined;
}

/** Throws InvalidIdError unless `id` may be created as a `kind`. No I/O happens before this. */
export function assertValidId(kind: IdKind, id: unknown): asserts id is string {
  const problem = idProblem(kind, id);
  if (problem !== undefined) throw new InvalidIdError(kind, id, problem);
}

/**
 * A name read from storage (a folder, or a file name in files.json) must be one path
 * segment that stays inside its parent: older tools may have written names we would not
 * create, and those stay readable, but nothing may lead a read or write out of the root.
 */
export function segmentProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'empty name';
  if (name === '.' || name === '..') return 'relative path segment';
  if (/[/\\\0]/.test(name)) return 'contains a path separator or NUL';
  return undefined;
}

export function assertSafeSegment(name: unknown, where: string): asserts name is string {
  const problem = segmentProblem(name);
  if (problem !== undefined) throw new InvalidKeyError(`${where}/${String(name)}`, problem);
}

/** Checks a whole relative key: POSIX, relative, no empty, "." or ".." segments. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'empty key';
  if (key.startsWith('/')) return 'absolute key';
  if (key.includes('\\') || key.includes('\0')) return 'contains "\\" or NUL';
  const parts = key.split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // A trailing "/" marks a folder key ("scan/fileset/"); empty segments elsewhere are not allowed.
    if (part === '' && i === parts.length - 1 && i > 0) continue;
    if (part === '' || part === '.' || part === '..') return 'empty, "." or ".." path segment';
  }
  return undefined;
}

export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
}
