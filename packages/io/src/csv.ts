import { InvalidArgumentError, type File } from '@romi/db-core';
import { IoCorruptError } from './errors.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ReadOptions, type Source, type WriteOptions } from './source.js';
import { decodeText } from './text.js';

// CSV as RFC 4180 and Python's csv module read it: fields may be quoted, quotes inside a quoted
// field are doubled, quoted fields may hold the delimiter and line breaks; rows end with \n,
// \r\n or \r. Rows keep their own length (the dtw files have ragged rows).

export interface CSVOptions {
  /** One character, default ','. */
  delimiter?: string;
}
export interface CSVWriteOptions extends CSVOptions, WriteOptions {
  /** Row terminator, default '\n' (pandas' to_csv); Python's csv.writer uses '\r\n'. */
  lineTerminator?: '\n' | '\r\n';
}

function delimiterOf(opts: CSVOptions): number {
  const d = opts.delimiter ?? ',';
  if (d.length !== 1 || d === '"' || d === '\n' || d === '\r') throw new InvalidArgumentError(`Invalid CSV delimiter ${JSON.stringify(d)}`);
  return d.charCodeAt(0);
}

export function parseCSV(text: string, opts: CSVOptions = {}, name = BYTES_NAME): string[][] {
  const delim = delimiterOf(opts);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  const n = text.length;
  // A row is pending once anything (even an empty field before a delimiter) has been seen.
  let pending = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 && field === '') {
      // quoted field
      let j = i + 1;
      let value = '';
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) {
          const line = text.slice(0, i).split(/\r\n|\r|\n/).length;
          throw new IoCorruptError(name, 'CSV', `unterminated quoted field starting on line ${line}`);
        }
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 0x22) {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      // Like Python's csv: characters after the closing quote join the field.
      let k = j;
      while (k < n && text.charCodeAt(k) !== delim && text.charCodeAt(k) !== 0x0a && text.charCodeAt(k) !== 0x0d) k++;
      field = value + text.slice(j, k);
      pending = true;
      i = k;
      continue;
    }
    if (c === delim) {
      row.push(field);
      field = '';
      pending = true;
      i++;
      continue;
    }
    if (c === 0x0a || c === 0x0d) {
      if (pending || field !== '') {
        row.push(field);
        rows.push(row);
      } else rows.push([]);
      row = [];
      field = '';
      pending = false;
      i += c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? 2 : 1;
      continue;
    }
    // plain run up to the next special character
    let k = i + 1;
    while (k < n) {
      const d = text.charCodeAt(k);
      if (d === delim || d === 0x0a || d === 0x0d) break;
      k++;
    }
    field += text.slice(i, k);
    pending = true;
    i = k;
  }
  if (pending || field !== '') {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const needsQuotes = (s: string, delim: string) => s.includes(delim) || s.includes('"') || s.includes('\n') || s.includes('\r');

/** CSV text; fields are quoted only when they must be (QUOTE_MINIMAL), null/undefined are empty. */
export function stringifyCSV(rows: ReadonlyArray<ReadonlyArray<unknown>>, opts: CSVOptions & { lineTerminator?: string } = {}): string {
  if (!Array.isArray(rows)) throw new InvalidArgumentError('rows must be an array of arrays');
  const delim = String.fromCharCode(delimiterOf(opts));
  const eol = opts.lineTerminator ?? '\n';
  let out = '';
  for (const [r, row] of rows.entries()) {
    if (!Array.isArray(row)) throw new InvalidArgumentError(`row ${r} is not an array`);
    const cells = row.map((v) => {
      const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return needsQuotes(s, delim) ? `"${s.replace(/"/g, '""')}"` : s;
    });
    // A row holding one empty field would read back as no field at all: quote it.
    out += (cells.length === 1 && cells[0] === '' ? '""' : cells.join(delim)) + eol;
  }
  return out;
}

export async function readCSV(src: Source, opts: CSVOptions & ReadOptions = {}): Promise<string[][]> {
  const { bytes, name } = await loadSource(src, opts);
  return parseCSV(decodeText(bytes, name, 'CSV'), opts, name);
}

export async function writeCSV(file: File, rows: ReadonlyArray<ReadonlyArray<unknown>>, ext = 'csv', opts: CSVWriteOptions = {}): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, new TextEncoder().encode(stringifyCSV(rows, opts)), e, opts);
}
