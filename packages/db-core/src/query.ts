import { InvalidArgumentError } from './errors.js';
import { isLosslessNumber, isPlainObject, MAX_JSON_DEPTH, type LosslessNumber } from './json.js';
import type { Metadata, Query, QueryOptions, SignalOptions } from './types.js';
import { mapLimit } from './util.js';

const TOO_DEEP = `A query may nest at most ${MAX_JSON_DEPTH} levels deep`;

/**
 * plantdb's recursive partial match: objects match when every query key matches,
 * arrays when every query item matches some item, strings (fuzzy) as regular
 * expressions anchored at both ends, everything else by equality.
 * Recursion follows the query, one frame per level: deeper than MAX_JSON_DEPTH is refused.
 */
export function partialMatch(query: unknown, value: unknown, fuzzy: boolean, depth = 1): boolean {
  if (isPlainObject(query)) {
    if (!isPlainObject(value)) return false;
    if (depth > MAX_JSON_DEPTH) throw new InvalidArgumentError(TOO_DEEP);
    for (const k of Object.keys(query)) {
      if (!Object.prototype.hasOwnProperty.call(value, k) || !partialMatch(query[k], value[k], fuzzy, depth + 1)) return false;
    }
    return true;
  }
  if (Array.isArray(query)) {
    if (!Array.isArray(value) || query.length > value.length) return false;
    if (depth > MAX_JSON_DEPTH) throw new InvalidArgumentError(TOO_DEEP);
    for (const q of query) if (!someMatches(q, value, fuzzy, depth + 1)) return false;
    return true;
  }
  if (fuzzy && typeof query === 'string' && typeof value === 'string') return compileRegex(query).test(value);
  return scalarEquals(query, value);
}

function someMatches(query: unknown, values: unknown[], fuzzy: boolean, depth: number): boolean {
  for (const v of values) if (partialMatch(query, v, fuzzy, depth)) return true;
  return false;
}

/** Equality of a query's scalar and a stored value, as Python compares them (0 == -0.0). */
function scalarEquals(query: unknown, value: unknown): boolean {
  const q = isLosslessNumber(query) ? Number((query as LosslessNumber).value) : query;
  const v = isLosslessNumber(value) ? Number((value as LosslessNumber).value) : value;
  return q === v;
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
  // A loop, not a recursion: a query may be as deep as its caller made it.
  const pending: unknown[] = [query];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const v = pending.pop();
    const depth = depths.pop()!;
    if (typeof v === 'string') {
      if (fuzzy) compileRegex(v);
      continue;
    }
    if (!Array.isArray(v) && !isPlainObject(v)) continue;
    if (depth > MAX_JSON_DEPTH) throw new InvalidArgumentError(TOO_DEEP);
    for (const item of Array.isArray(v) ? v : Object.values(v)) {
      pending.push(item);
      depths.push(depth + 1);
    }
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
    // Each value sits one level inside the query object.
    if (!partialMatch(q, md[k], fuzzy, 2)) return false;
  }
  return true;
}

function isEmptyQuery(query: Query | undefined | null): boolean {
  return !query || Object.keys(query).length === 0;
}

/** The ids whose object's metadata matches the query of `opts` (all of them without one). */
export async function selectByMetadata(
  ids: string[],
  holder: (id: string) => { metadataStore: { read(opts?: SignalOptions): Promise<Metadata> } },
  concurrency: number,
  opts: QueryOptions,
): Promise<string[]> {
  if (isEmptyQuery(opts.query)) return ids;
  const keep = await mapLimit(ids, concurrency, async (id) => matchesQuery(await holder(id).metadataStore.read(opts), opts.query, opts.fuzzy), opts.signal);
  return ids.filter((_, i) => keep[i]);
}
