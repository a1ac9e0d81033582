/** Id rules: which ids may be created, looked up, or changed through the API. */
import { InvalidIdError } from './errors.js';
import { RESERVED_IDS, type IdKind } from './layout.js';

export type { IdKind };

const ID_CHARS = /^[A-Za-z0-9_.-]+$/;

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
  const problem = segmentProblem(id);
  if (problem !== undefined) return problem;
  if (id.startsWith('.')) return 'starts with "."';
  if (RESERVED_IDS[kind].has(id)) return `"${id}" is reserved`;
  return undefined;
}

/** Throws InvalidIdError when the object `id` must not be changed through the API. */
export function assertWritableId(kind: IdKind, id: string): void {
  const problem = unwritableIdProblem(kind, id);
  if (problem !== undefined) throw new InvalidIdError(kind, id, `${problem}; it stays readable, but romidb does not change or delete it`);
}

/** Why `name` is not one plain folder or file name (a path segment that stays in its folder). */
function segmentProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'not a name';
  if (/[/\\\0]/.test(name)) return 'contains a path separator or NUL';
  return undefined;
}

/** Ids used to look objects up: anything that is not one plain folder or file name is refused. */
export function assertLookupId(kind: IdKind, id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidIdError(kind, id, 'ids are strings');
  const problem = segmentProblem(id);
  if (problem !== undefined) throw new InvalidIdError(kind, id, problem);
}
