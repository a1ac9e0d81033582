import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyJsonValue, formatPythonJson, parseJsonTree, pythonFloatRepr, toPlain } from '../src/json.js';
import { ErrorCodes, isRomiError } from '../src/errors.js';

const fixtures = new URL('../../../test-fixtures/', import.meta.url);

describe('Python-compatible JSON', () => {
  it('writes every float the way Python json does (3,000 doubles made by Python)', () => {
    const rows = JSON.parse(readFileSync(new URL('python-json/floats.json', fixtures), 'utf8')) as Array<[string, string]>;
    expect(rows.length).toBeGreaterThan(2900);
    const mismatches: string[] = [];
    for (const [hex, text] of rows) {
      const value = Buffer.from(hex, 'hex').readDoubleBE(0);
      const ours = formatPythonJson(value);
      if (ours !== text) mismatches.push(`${hex}: ${ours} != ${text}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('formats special floats like repr()', () => {
    expect(pythonFloatRepr(-0)).toBe('-0.0');
    expect(pythonFloatRepr(1e16)).toBe('1e+16');
    expect(pythonFloatRepr(123.0)).toBe('123.0');
    expect(formatPythonJson(123)).toBe('123');
    expect(formatPythonJson(2 ** 60)).toBe('1.152921504606847e+18');
    // -0 is only a float: Python writes -0.0, and so does romidb (finding 14 of issue 10).
    expect(formatPythonJson({ z: -0, l: [-0, 0] })).toBe('{\n    "l": [\n        -0.0,\n        0\n    ],\n    "z": -0.0\n}');
  });

  it('output always parses back to the same value (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        // -0 included: it is written as -0.0 and read back as -0.
        expect(JSON.parse(formatPythonJson(v))).toEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the text of numbers read from storage', () => {
    const text = '{\n    "a": 276.0,\n    "b": 1e-05,\n    "c": 12345678901234567890\n}';
    const tree = parseJsonTree(text);
    expect(formatPythonJson(tree)).toBe(text);
    expect(toPlain(tree)).toEqual({ a: 276, b: 1e-5, c: 12345678901234567000 });
  });

  it('refuses what JSON cannot hold, naming where it is', () => {
    const attempt = (v: unknown): string => {
      try {
        copyJsonValue(v, 'metadata');
        return 'accepted';
      } catch (err) {
        expect(isRomiError(err, ErrorCodes.INVALID_METADATA)).toBe(true);
        return (err as Error).message;
      }
    };
    expect(attempt({ a: { b: [1, NaN] } })).toMatch(/metadata\.a\.b\[1\] is NaN/);
    expect(attempt({ f() {} })).toMatch(/metadata\.f is a function/);
    expect(attempt(new Map())).toMatch(/Map/);
    expect(copyJsonValue({ a: undefined, b: 1 })).toEqual({ b: 1 });
  });
});
