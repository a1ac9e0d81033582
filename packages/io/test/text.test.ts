import { describe, expect, it } from 'vitest';
import {
  parseCSV,
  parseJSON,
  readCSV,
  readJSON,
  readTOML,
  stringifyCSV,
  stringifyJSON,
  stringifyTOML,
  writeCSV,
  writeJSON,
  writeTOML,
} from '../src/index.js';
import { BytesFile, HAS_NUMPY, REAL, fixture, python, romiError, NO_NUMPY } from './helpers.js';

const enc = new TextEncoder();

describe('JSON', () => {
  it('round-trips through a File, ext json by default', async () => {
    const f = new BytesFile('test_json');
    const value = { 'Who you gonna call?': 'Ghostbuster', n: [1, 2.5, -3], nested: { ok: true, none: null } };
    await writeJSON(f.asFile(), value);
    expect(f.filename).toBe('test_json.json');
    expect(await readJSON(f.asFile())).toEqual(value);
  });
  it('writes like Python json.dumps(indent=4): separators, ASCII escapes, empty containers, no newline at the end', () => {
    const text = stringifyJSON({ b: [1, 'é', {}], a: [], c: { d: null } });
    expect(text).toBe('{\n    "b": [\n        1,\n        "\\u00e9",\n        {}\n    ],\n    "a": [],\n    "c": {\n        "d": null\n    }\n}');
    expect(stringifyJSON({ b: 1, a: 2 }, { sortKeys: true, indent: 0 })).toBe('{"a": 2, "b": 1}');
    expect(stringifyJSON({ x: new Float32Array([0.5, 1]) }, { indent: 0 })).toBe('{"x": [0.5, 1]}');
  });
  it('reads and writes NaN and Infinity the way Python does', async () => {
    const text = stringifyJSON({ a: NaN, b: [Infinity, -Infinity], s: 'NaN and -Infinity stay text' }, { indent: 0 });
    expect(text).toBe('{"a": NaN, "b": [Infinity, -Infinity], "s": "NaN and -Infinity stay text"}');
    expect(parseJSON(text)).toEqual({ a: NaN, b: [Infinity, -Infinity], s: 'NaN and -Infinity stay text' });
  });
  it('writes -0.0 read from Python as -0.0, not 0', () => {
    const read = parseJSON('{"angle": -0.0}') as { angle: number };
    expect(Object.is(read.angle, -0)).toBe(true);
    expect(stringifyJSON(read, { indent: 0 })).toBe('{"angle": -0.0}');
  });
  it.skipIf(!HAS_NUMPY)(`Python reads what we write and we read what Python writes${NO_NUMPY}`, () => {
    const value = { 'é€😀': [NaN, 1.5, 'x"y\\z\n'], k: { deep: [true, false, null] } };
    const out = python('import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v, indent=4))', [stringifyJSON(value)]);
    expect(out.trimEnd()).toBe(stringifyJSON(value));
    expect(parseJSON(out)).toEqual(value);
  });
  it('reads the real measures.json', async () => {
    const m = await readJSON<{ angles: number[]; internodes: number[] }>(`${REAL}measures.json`);
    expect(m.angles.length).toBe(29);
    expect(m.internodes.length).toBe(29);
  });
  it('fails with ROMI_CORRUPT naming the file on bad JSON, bad UTF-8 and empty files', async () => {
    for (const bytes of [enc.encode('{"a": '), new Uint8Array([0x22, 0xff, 0x22]), new Uint8Array(0), enc.encode('NaNa')]) {
      const f = new BytesFile('bad');
      f.data = bytes;
      f.filename = 'bad.json';
      const err = await romiError(() => readJSON(f.asFile()));
      expect(err.code).toBe('ROMI_CORRUPT');
      expect(err.message).toContain('bad.json');
    }
  });
  it('refuses values with no JSON form', async () => {
    const f = new BytesFile();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const v of [circular, new Map(), undefined]) {
      expect((await romiError(() => writeJSON(f.asFile(), v))).code).toBe('ROMI_INVALID_ARGUMENT');
    }
  });
});

describe('TOML', () => {
  it('writes {"test":{"toml":1}} as the Python toml module does', async () => {
    const f = new BytesFile('test_toml');
    await writeTOML(f.asFile(), { test: { toml: 1 } });
    expect(f.filename).toBe('test_toml.toml');
    expect(new TextDecoder().decode(f.data)).toBe('[test]\ntoml = 1\n');
    expect(await readTOML(f.asFile())).toEqual({ test: { toml: 1 } });
  });
  it('reads the real pipeline config', async () => {
    const cfg = await readTOML<Record<string, Record<string, unknown>>>(`${REAL}geom_pipe_real.toml`);
    expect(Object.keys(cfg).length).toBeGreaterThan(3);
    expect(stringifyTOML(cfg)).toBeTruthy();
    // round trip through our writer keeps the values
    const again = await readTOML(enc.encode(stringifyTOML(cfg)));
    expect(again).toEqual(cfg);
  });
  it('keeps integers beyond 2^53 exact', async () => {
    const v = await readTOML(enc.encode('big = 9007199254740993\nsmall = 3\n'));
    expect(v).toEqual({ big: 9007199254740993n, small: 3 });
  });
  it('fails with ROMI_CORRUPT naming the file', async () => {
    const err = await romiError(() => readTOML(`${REAL}00000_rgb.jpg`));
    expect(err.code).toBe('ROMI_CORRUPT');
    expect(err.message).toContain('00000_rgb.jpg');
    const err2 = await romiError(() => readTOML(enc.encode('[a]\nb = \n')));
    expect(err2.code).toBe('ROMI_CORRUPT');
    expect(err2.message).toContain('<bytes>');
  });
});

describe('CSV', () => {
  it('quoted fields with commas, quotes and line breaks; CRLF, LF and CR rows', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","two\nlines"\n,,\r"",z\n\nlast';
    expect(parseCSV(text)).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'two\nlines'],
      ['', '', ''],
      ['', 'z'],
      [],
      ['last'],
    ]);
  });
  it('round-trips awkward rows', async () => {
    const rows = [['plain', 'with,comma', 'with "quote"', 'multi\r\nline', ''], [''], [], ['é', '😀', ' padded ']];
    for (const lineTerminator of ['\n', '\r\n'] as const) {
      const f = new BytesFile('measures');
      await writeCSV(f.asFile(), rows, 'csv', { lineTerminator });
      expect(f.filename).toBe('measures.csv');
      expect(await readCSV(f.asFile())).toEqual(rows);
    }
    expect(stringifyCSV([[1, null, true, { a: 1 }]])).toBe('1,,true,"{""a"":1}"\n');
    expect(parseCSV('a;b\n', { delimiter: ';' })).toEqual([['a', 'b']]);
  });
  it.skipIf(!HAS_NUMPY)(`matches Python's csv module both ways${NO_NUMPY}`, () => {
    const rows = [['a', 'b,c', 'd"e', 'f\ng'], [''], ['x', '', 'y']];
    const out = python('import csv,sys,json,io; r=list(csv.reader(io.StringIO(sys.argv[1], newline=""))); print(json.dumps(r))', [stringifyCSV(rows)]);
    expect(JSON.parse(out)).toEqual(rows);
    const written = python('import csv,sys,json,io; s=io.StringIO(); csv.writer(s).writerows(json.loads(sys.argv[1])); sys.stdout.write(s.getvalue())', [JSON.stringify(rows)]);
    expect(parseCSV(written)).toEqual(rows);
  });
  it('reads the real dtw tables', async () => {
    const pred = await readCSV(`${REAL}predicted.csv`);
    expect(pred[0]).toEqual(['Plant ID', 'angles', 'Internodes']);
    expect(pred[1][0]).toBe('Col0_12_10_2018_A');
    expect(pred.every((r) => r.length === 3)).toBe(true);
    const angles = await readCSV(fixture('real/groundtruth.angles.csv'));
    expect(angles[0].length).toBe(12);
    expect(new Set(angles.map((r) => r.length)).size).toBeGreaterThan(1);
  });
  it('fails with ROMI_CORRUPT on an unterminated quote or bad UTF-8', async () => {
    const e1 = await romiError(() => readCSV(enc.encode('a,b\n"open,\n')));
    expect(e1.code).toBe('ROMI_CORRUPT');
    expect(e1.message).toMatch(/line 2/);
    expect((await romiError(() => readCSV(new Uint8Array([0x61, 0xc3])))).code).toBe('ROMI_CORRUPT');
    expect(await readCSV(new Uint8Array(0))).toEqual([]);
  });
});
