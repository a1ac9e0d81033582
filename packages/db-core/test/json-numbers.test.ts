import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse as parseLossless } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { formatPythonJson, isLosslessNumber, parseJson, parseJsonTree, pythonFloatRepr, reconcile, toPlain } from '../src/json.js';
import { ScanIndex } from '../src/layout.js';

const golden = (name: string): string => readFileSync(new URL(`../../../test-fixtures/golden/${name}`, import.meta.url), 'utf8');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The same bytes, `offset` bytes into a larger buffer (as pooled Node buffers are). */
function unaligned(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(offset + bytes.length);
  buffer.set(bytes, offset);
  return buffer.subarray(offset);
}

/** What a parser keeping every number's text (and the last of duplicate keys, as JSON.parse and Python do) reads. */
const losslessOracle = (text: string): unknown => parseLossless(text, undefined, { onDuplicateKey: ({ newValue }) => newValue });

/** Number texts as Python and hand-edited files hold them, canonical or not. */
const numberText = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.integer({ min: -1000, max: 1000 }).map((n) => `${n}.0`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(pythonFloatRepr),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom('-0', '-0.0', '0.0', '1e-05', '1e-5', '1E5', '1.50', '0.1e1', '1e400', '-1e400', '5e-324'),
);
/** Keys whose order in a JS object differs from the text's, escaped keys, and few enough to repeat. */
const key = fc.oneof(fc.constantFrom('a', 'b', '0', '7', '10', '__proto__', 'a"b', 'é', '\\', 'x y'), fc.string({ maxLength: 3, unit: 'binary' }));
const space = fc.constantFrom('', ' ', '\n    ');

const jsonText = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    numberText,
    fc.string({ maxLength: 6, unit: 'binary' }).map((s) => JSON.stringify(s)),
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.tuple(fc.array(tie('value'), { maxLength: 5 }), space).map(([items, s]) => `[${s}${items.join(`,${s}`)}${s}]`),
  object: fc
    .tuple(fc.array(fc.tuple(key, tie('value')), { maxLength: 6 }), space)
    .map(([entries, s]) => `{${s}${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(`,${s}`)}${s}}`),
})).value;

describe('reading numbers as they are written back', () => {
  it('keeps the text only of numbers that would be written back differently', () => {
    const text = '{"big": 12345678901234567890, "exp": 1E5, "float": 276.0, "int": 80, "neg0": -0.0, "repr": 0.25, "small": 1e-05}';
    const tree = parseJsonTree(text) as Record<string, unknown>;
    const kept = Object.keys(tree).filter((k) => isLosslessNumber(tree[k]));
    // -0.0 is how -0 is written anyway: no text to keep for it.
    expect(kept.sort()).toEqual(['big', 'exp', 'float']);
    expect(formatPythonJson(tree)).toBe(formatPythonJson(losslessOracle(text)));
    expect(Object.is(toPlain(tree) && (toPlain(tree) as Record<string, number>).neg0, -0)).toBe(true);
  });

  it('reads like a lossless parser and like JSON.parse, from text or bytes (fast-check)', () => {
    fc.assert(
      fc.property(jsonText, fc.nat(3), (text, offset) => {
        const expected = formatPythonJson(losslessOracle(text));
        expect(formatPythonJson(parseJsonTree(text))).toBe(expected);
        expect(formatPythonJson(parseJsonTree(unaligned(utf8(text), offset)))).toBe(expected);
        expect(toPlain(parseJsonTree(text))).toEqual(JSON.parse(text));
        expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the number of the last of duplicate keys, as JSON.parse and Python do', () => {
    const tree = parseJsonTree('{"a": 1.0, "b": {"c": 2.0, "c": 3}, "a": {"d": 4.0}, "b": 5.50}');
    expect(formatPythonJson(tree)).toBe('{\n    "a": {\n        "d": 4.0\n    },\n    "b": 5.50\n}');
  });

  it('reads NaN, Infinity and -Infinity as Python writes them, and writes them back', () => {
    const text = golden('special-numbers-before.json');
    const plain = parseJson(text) as Record<string, unknown>;
    expect(plain.mean).toBeNaN();
    expect(plain.bounds).toEqual([-Infinity, Infinity]);
    expect((plain.nested as { scores: unknown[] }).scores).toEqual([0.5, NaN, 276, -Infinity]);
    expect(Object.is(plain.angle, -0)).toBe(true);
    expect(formatPythonJson(parseJsonTree(text))).toBe(text);
    expect(formatPythonJson(parseJsonTree(utf8(text)))).toBe(text);
    expect(parseJson('NaN')).toBeNaN();
    expect(parseJson('{"NaN": "Infinity", "x": -Infinity}')).toEqual({ NaN: 'Infinity', x: -Infinity });
  });

  it('takes NaN and Infinity only where a number stands whole', () => {
    for (const text of ['[1NaN]', '[NaN1]', '[Infinity.5]', '[-NaN]', '[nan]', '[NaNa]', '["a"NaN]', '[NaN', '{"a" NaN}', '{NaN: 1}', '[- Infinity]', '[+Infinity]']) {
      expect(() => parseJson(text), text).toThrow(SyntaxError);
      expect(() => parseJsonTree(text), text).toThrow(SyntaxError);
    }
  });

  it('writes back -0.0 read from a file as -0.0, and 0 set over it as 0', () => {
    const text = '{\n    "a": -0.0,\n    "b": [\n        -0.0,\n        0.0\n    ],\n    "c": -0\n}';
    const tree = parseJsonTree(text);
    expect(formatPythonJson(tree)).toBe(text);
    expect(formatPythonJson(reconcile(toPlain(tree), tree))).toBe(text);
    expect(formatPythonJson(reconcile({ a: 0, b: [-0, 0], c: -0 }, tree))).toBe('{\n    "a": 0,\n    "b": [\n        -0.0,\n        0.0\n    ],\n    "c": -0\n}');
  });

  it('keeps the numbers of an index through ScanIndex, NaN and -0.0 included', () => {
    const text = `{
    "filesets": [
        {
            "files": [
                {
                    "file": "a.png",
                    "id": "a",
                    "pose": [
                        276.0,
                        -0.0,
                        NaN,
                        1e-05
                    ]
                }
            ],
            "id": "images"
        }
    ]
}`;
    const index = ScanIndex.parse(utf8(text), 's/files.json');
    expect(new TextDecoder().decode(index.serialize())).toBe(text);
    index.addFile('images', 'b', 'b.png');
    expect(new TextDecoder().decode(index.serialize())).toContain('"pose": [\n                        276.0,\n                        -0.0,\n                        NaN,');
  });
});
