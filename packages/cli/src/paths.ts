/** Command-line arguments: paths inside a database, JSON values and files. */
import { readFile } from 'node:fs/promises';
import { isPlainObject, parseJsonTree, type Metadata } from '@romi/db-core';
import { UsageError } from './context.js';

export interface DbPath {
  scan?: string;
  fileset?: string;
  file?: string;
}

/** "scan", "scan/fileset" or "scan/fileset/file" (a trailing "/" is allowed). */
export function parseDbPath(path: string | undefined, min: 0 | 1 | 2 | 3, max: 1 | 2 | 3 = 3): DbPath {
  if (path === undefined || path === '') {
    if (min > 0) throw new UsageError('a path is required: scan[/fileset[/file]]');
    return {};
  }
  const parts = path.replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '')) throw new UsageError(`invalid path "${path}": empty segment`);
  if (parts.some((p) => p === '.' || p === '..')) throw new UsageError(`invalid path "${path}": "." and ".." are not ids`);
  if (parts.length < min || parts.length > max) {
    const forms = ['scan', 'scan/fileset', 'scan/fileset/file'].slice(Math.max(min, 1) - 1, max);
    throw new UsageError(`invalid path "${path}": expected ${forms.join(' or ')}`);
  }
  const [scan, fileset, file] = parts;
  return { scan, fileset, file };
}

/**
 * A JSON argument that must be an object (queries, metadata). Metadata is read keeping the text
 * of its numbers (`276.0` is stored as `276.0`, as Python wrote it), NaN and Infinity included.
 */
export function parseJsonObject(text: string, what: string, opts: { metadata?: boolean } = {}): Metadata {
  let value: unknown;
  try {
    value = opts.metadata ? parseJsonTree(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(value)) throw new UsageError(`${what} must be a JSON object, got ${JSON.stringify(value)}`);
  return value as Metadata;
}

/** A metadata value: JSON when it parses (numbers, booleans, objects; number texts kept), else the string itself. */
export function parseValue(text: string): unknown {
  try {
    return parseJsonTree(text);
  } catch {
    return text;
  }
}

export async function readJsonObjectFile(path: string, what: string): Promise<Metadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseJsonObject(text, `${what} "${path}"`, { metadata: true });
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a whole number ≥ 1, got "${text}"`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A size in bytes: "500000", "64M", "2G", "1T" (binary units). */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!Number.isFinite(n) || n < 1) throw new UsageError(`${what} must be a size such as 500000, 64M or 2G, got "${text}"`);
  return Math.floor(n);
}
