import { InvalidArgumentError } from './errors.js';
import { isPlainObject, jsonEqual } from './json.js';
import type { Metadata, Query } from './types.js';

/**
 * plantdb's recursive partial match: objects match when every query key matches,
 * arrays when every query item matches some item, strings (fuzzy) as regular
 * expressions anchored at both ends, everything else by equality.
 */
export function partialMatch(query: unknown, value: unknown, fuzzy: boolean): boolean {
  if (isPlainObject(query)) {
    if (!isPlainObject(value)) return false;
    return Object.keys(query).every((k) => Object.prototype.hasOwnProperty.call(value, k) && partialMatch(query[k], value[k], fuzzy));
  }
  if (Array.isArray(query)) {
    if (!Array.isArray(value) || query.length > value.length) return false;
    return query.every((q) => value.some((v) => partialMatch(q, v, fuzzy)));
  }
  if (fuzzy && typeof query === 'string' && typeof value === 'string') return compileRegex(query).test(value);
  return jsonEqual(query, value);
}

const regexCache = new Map<string, RegExp>();

function compileRegex(source: string): RegExp {
  let re = regexCache.get(source);
  if (!re) {
    try {
      re = new RegExp(`^(?:${source})$`, 'u');
    } catch (err) {
      throw new InvalidArgumentError(`Invalid regular expression in fuzzy query: ${JSON.stringify(source)} (${(err as Error).message})`);
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** Throws InvalidArgumentError when `query` is not a usable query (checked before any I/O). */
export function assertQuery(query: unknown, fuzzy = false): asserts query is Query | undefined {
  if (query === undefined || query === null) return;
  if (!isPlainObject(query)) throw new InvalidArgumentError('A query is a plain object of metadata keys and values');
  if (fuzzy) {
    const visit = (v: unknown): void => {
      if (typeof v === 'string') compileRegex(v);
      else if (Array.isArray(v)) v.forEach(visit);
      else if (isPlainObject(v)) Object.values(v).forEach(visit);
    };
    visit(query);
  }
}

/** Whether an object with metadata `md` is selected by `query`. A missing key only matches {}. */
export function matchesQuery(md: Metadata, query: Query | undefined | null, fuzzy = false): boolean {
  if (!query) return true;
  for (const k of Object.keys(query)) {
    const q = query[k];
    if (!Object.prototype.hasOwnProperty.call(md, k)) {
      if (isPlainObject(q) && Object.keys(q).length === 0) continue;
      return false;
    }
    if (!partialMatch(q, md[k], fuzzy)) return false;
  }
  return true;
}

export function isEmptyQuery(query: Query | undefined | null): boolean {
  return !query || Object.keys(query).length === 0;
}
