import { describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError } from '../src/errors.js';
import {
  copyJsonValue,
  formatPythonJson,
  jsonEqual,
  JsonDepthError,
  MAX_JSON_DEPTH,
  parseJson,
  parseJsonTree,
  reconcile,
  toPlain,
} from '../src/json.js';
import { ScanIndex } from '../src/layout.js';
import { assertQuery, matchesQuery } from '../src/query.js';
import * as api from '../src/index.js';

/** `depth` arrays around `leaf`, built without recursion. */
function deepArray(depth: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** JSON texts nesting `depth` containers: arrays, objects, with a kept number, with NaN. */
const shapes = {
  arrays: (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`,
  objects: (depth: number) => `${'{"k": '.repeat(depth)}"v"${'}'.repeat(depth)}`,
  'a kept number': (depth: number) => `${'[0, '.repeat(depth)}276.0${']'.repeat(depth)}`,
  NaN: (depth: number) => `${'{"a": ['.repeat(depth / 2)}NaN${']}'.repeat(depth / 2)}`,
};

/** The error `fn` throws (fails when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('JSON nesting is bounded by MAX_JSON_DEPTH, and never overflows the stack', () => {
  it('is exported as 1,000 levels, more than Python can write', () => {
    expect(MAX_JSON_DEPTH).toBe(1000);
    expect(api.MAX_JSON_DEPTH).toBe(MAX_JSON_DEPTH);
  });

  for (const [name, make] of Object.entries(shapes)) {
    it(`reads ${name} ${MAX_JSON_DEPTH} levels deep, and refuses deeper with JsonDepthError`, () => {
      for (const parse of [parseJson, parseJsonTree]) {
        const value = parse(make(MAX_JSON_DEPTH));
        expect(toPlain(value)).toEqual(toPlain(parse(make(MAX_JSON_DEPTH))));
        for (const depth of [MAX_JSON_DEPTH + 2, 9000, 200_000]) {
          const err = thrown(() => parse(make(depth)));
          expect(err, `${name} ${depth}`).toBeInstanceOf(JsonDepthError);
          expect((err as Error).message).toBe('nested deeper than 1000 levels');
        }
      }
    });
  }

  it('walks values of any depth in loops: copies, comparisons, reconciling', () => {
    const deep = deepArray(200_000, 2.5);
    expect(jsonEqual(toPlain(deep), deep)).toBe(true);
    expect(jsonEqual(reconcile(deep, deepArray(200_000, 3)), deep)).toBe(true);
    expect(jsonEqual(deep, deepArray(200_000, 3))).toBe(false);
  });

  it('writes the deepest value it reads as Python does (JSON.stringify with indent 4 writes these alike)', () => {
    // Keys already sorted, no floats, ASCII strings: where JSON.stringify and Python agree.
    const value = deepArray(MAX_JSON_DEPTH - 2, { a: {}, b: [1, 'x'] });
    const text = JSON.stringify(value, null, 4);
    expect(formatPythonJson(value)).toBe(text);
    expect(formatPythonJson(parseJsonTree(text))).toBe(formatPythonJson(value));
  });

  it('refuses values to store nested deeper than MAX_JSON_DEPTH with InvalidMetadataError, counting where they go', () => {
    expect(copyJsonValue(deepArray(MAX_JSON_DEPTH))).toEqual(deepArray(MAX_JSON_DEPTH));
    expect(copyJsonValue(deepArray(MAX_JSON_DEPTH - 1), 'pose', 1)).toEqual(deepArray(MAX_JSON_DEPTH - 1));
    for (const [value, depth] of [
      [deepArray(MAX_JSON_DEPTH), 1],
      [deepArray(2000), 0],
      [deepArray(200_000), 0],
    ] as const) {
      const err = thrown(() => copyJsonValue(value, 'pose', depth));
      expect(isRomiError(err, ErrorCodes.INVALID_METADATA)).toBe(true);
      expect((err as Error).message).toMatch(/^pose(\[0\])+ is nested deeper than 1000 levels$/);
    }
  });

  it('refuses queries nested deeper than MAX_JSON_DEPTH with InvalidArgumentError', () => {
    assertQuery({ a: deepArray(MAX_JSON_DEPTH - 1) });
    for (const query of [{ a: deepArray(MAX_JSON_DEPTH) }, { a: deepArray(200_000) }]) {
      expect(isRomiError(thrown(() => assertQuery(query)), ErrorCodes.INVALID_ARGUMENT)).toBe(true);
      expect(isRomiError(thrown(() => matchesQuery({ a: deepArray(200_000) }, query)), ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    }
    expect(matchesQuery({ a: deepArray(MAX_JSON_DEPTH - 1) }, { a: deepArray(MAX_JSON_DEPTH - 1) })).toBe(true);
    expect(matchesQuery({ a: deepArray(MAX_JSON_DEPTH - 1, 2) }, { a: deepArray(MAX_JSON_DEPTH - 1) })).toBe(false);
  });

  it('reports an index nested too deep as corrupt, naming its key', () => {
    const text = `{"filesets": [{"id": "a", "files": [{"id": "f", "file": null, "x": ${shapes.arrays(9000)}}]}]}`;
    const err = thrown(() => ScanIndex.parse(new TextEncoder().encode(text), 's/files.json'));
    expect(isRomiError(err, ErrorCodes.CORRUPT)).toBe(true);
    expect((err as Error).message).toBe('Corrupt data at "s/files.json": nested deeper than 1000 levels');
  });
});
