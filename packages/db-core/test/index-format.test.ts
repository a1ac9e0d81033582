import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPythonJson, ScanIndex } from '@romi/db-core';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('files.json writer', () => {
  it('writes the same bytes as the generic Python-compatible writer, after any edits', () => {
    const id = fc.string({ minLength: 1, maxLength: 12 });
    const ops = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('fileset' as const), fs: id }),
        fc.record({ op: fc.constant('file' as const), fs: id, id, name: fc.option(id) }),
        fc.record({ op: fc.constant('rename' as const), fs: id, id, name: id }),
        fc.record({ op: fc.constant('remove' as const), fs: id, id }),
      ),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(ops, (list) => {
        const index = ScanIndex.empty();
        for (const o of list) {
          if (o.op === 'fileset' && !index.fileset(o.fs)) index.addFileset(o.fs);
          if (o.op === 'file' && index.fileset(o.fs) && !index.file(o.fs, o.id)) index.addFile(o.fs, o.id, o.name);
          if (o.op === 'rename' && index.file(o.fs, o.id)) index.setFilename(o.fs, o.id, o.name);
          if (o.op === 'remove' && index.file(o.fs, o.id)) index.removeFile(o.fs, o.id);
          expect(index.serialize()).toEqual(enc(formatPythonJson(index.root)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps unknown keys, falling back to the generic writer', () => {
    const text = '{\n    "extra": 1.0,\n    "filesets": [\n        {\n            "files": [],\n            "id": "a",\n            "note": "kept"\n        }\n    ]\n}';
    const index = ScanIndex.parse(enc(text), 'x/files.json');
    expect(new TextDecoder().decode(index.serialize())).toBe(text);
  });
});
