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
 * Why an object found in storage (an older tool may have written ids romidb would not create)
 * cannot be changed or deleted through the API: its id is reserved by the layout at its level,
 * or is not one plain path segment. Such objects stay readable. Undefined when it can be changed.
 */
export function unwritableIdProblem(kind: IdKind, id: string): string | undefined {
  if (id === '' || id === '.' || id === '..') return 'not a name';
  if (/[/\\\0]/.test(id)) return 'contains a path separator or NUL';
  if (id.startsWith('.')) return 'starts with "."';
  if (RESERVED_IDS[kind].has(id)) return `"${id}" is reserved`;
  return undefined;
}

/** Throws InvalidIdError when the object `id` must not be changed through the API. */
export function assertWritableId(kind: IdKind, id: string): void {
  const problem = unwritableIdProblem(kind, id);
  if (problem !== undefined) throw new InvalidIdError(kind, id, `${problem}; it stays readable, but romidb does not change or delete it`);
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
