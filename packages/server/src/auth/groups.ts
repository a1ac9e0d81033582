/**
 * `groups.json` as plantdb 0.15's GroupManager writes it: an object of groups by name, each
 * `{"users": [...], "description": str | null, "created_at": date, "created_by": username}`.
 * Groups are kept in file order; fields romidb does not know are kept on rewrite.
 */
import { isPlainObject, type Backend } from '@romi/db-core';
import { JsonFile, parsePythonDate } from './json-file.js';

/** Groups by name, in file order; each record as stored. */
export type GroupsDoc = Map<string, Record<string, unknown>>;

export interface Group {
  name: string;
  users: string[];
  description: string | null;
  createdBy: string;
  createdAt?: Date;
}

function parseGroups(tree: unknown): GroupsDoc {
  if (!isPlainObject(tree)) throw 'not a JSON object of groups';
  const groups: GroupsDoc = new Map();
  for (const [name, g] of Object.entries(tree)) {
    const where = `group "${name}"`;
    if (!isPlainObject(g)) throw `${where} is not an object`;
    if (!Array.isArray(g.users) || g.users.some((u) => typeof u !== 'string')) throw `${where}: "users" is not a list of usernames`;
    if (typeof g.created_by !== 'string') throw `${where}: "created_by" is not a username`;
    if (typeof g.created_at !== 'string' || parsePythonDate(g.created_at) === undefined) throw `${where}: "created_at" is not a date`;
    if (g.description != null && typeof g.description !== 'string') throw `${where}: "description" is not a text`;
    groups.set(name, g);
  }
  return groups;
}

export function groupsFile(backend: Backend, lockWaitMs?: number): JsonFile<GroupsDoc> {
  return new JsonFile(backend, {
    name: 'groups.json',
    empty: () => new Map(),
    parse: parseGroups,
    // fromEntries defines own properties: a group named "__proto__" stays a group.
    serialize: (groups) => Object.fromEntries(groups),
    lockWaitMs,
  });
}

export function groupView(name: string, g: Record<string, unknown>): Group {
  const group: Group = { name, users: [...(g.users as string[])], description: (g.description as string | null | undefined) ?? null, createdBy: g.created_by as string };
  const createdAt = parsePythonDate(g.created_at as string);
  if (createdAt) group.createdAt = createdAt;
  return group;
}
