import * as zlib from 'node:zlib';
import { zipSync, type Zippable } from 'fflate';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { MAX_DEFLATE_RATIO, inflateBounded, refuseOverlaps, type Span } from './limits.js';

// A small ZIP reader with the bounds checks fflate's unzipSync leaves out: every offset and size
// is checked against the archive before use, sizes must be plausible for their compression (so a
// 1 KB entry cannot make us allocate the 2 GB it claims), entries may not share bytes (so 40 names
// for one stream cannot claim 40 times its size), inflating stops where an entry's size says, and
// CRC-32s are verified. Node's zlib inflates; fflate does all of the writing.

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the entry's data (after its local header). */
  dataOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const ZIP64_LOC_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;

export function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && (b[3] === 4 || b[3] === 6);
}

export function listZip(bytes: Uint8Array, name: string, format = 'ZIP'): ZipEntry[] {
  const corrupt = (detail: string) => new IoCorruptError(name, format, detail);
  if (bytes.length === 0) throw corrupt('empty file');
  if (bytes.length < 22) throw corrupt('too short for a ZIP archive');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('64-bit size out of range');
    return Number(v);
  };
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let o = bytes.length - 22, stop = Math.max(0, bytes.length - 22 - 0xffff); o >= stop; o--) {
    if (u32(o) === EOCD_SIG) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory (not a ZIP archive, or truncated)');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOC_SIG) {
    const z = u64(eocd - 12);
    if (z + 56 > bytes.length || u32(z) !== ZIP64_EOCD_SIG) throw corrupt('bad ZIP64 end of central directory');
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  if (cdOffset + cdSize > bytes.length) throw corrupt('central directory lies outside the file');
  // Each central entry takes at least 46 bytes: bounds the loop by the real data.
  if (count * 46 > cdSize) throw corrupt(`central directory claims ${count} entries in ${cdSize} bytes`);
  const entries: ZipEntry[] = [];
  // Byte ranges in use: the directory, and each entry's local header and data.
  const spans: Span[] = [{ start: cdOffset, end: cdOffset + cdSize, what: 'the central directory' }];
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdEnd || u32(p) !== CEN_SIG) throw corrupt(`bad central directory entry ${k}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let csize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) throw corrupt(`central directory entry ${k} overruns the directory`);
    const rawName = bytes.subarray(p + 46, p + 46 + nameLen);
    const entryName = flags & 0x800 ? utf8(rawName, corrupt) : cp437ish(rawName);
    // ZIP64 extra field (numpy's savez uses force_zip64 on every entry).
    if (size === 0xffffffff || csize === 0xffffffff || local === 0xffffffff) {
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      let found = false;
      while (e + 4 <= eEnd) {
        const id = u16(e);
        const len = u16(e + 2);
        if (e + 4 + len > eEnd) break;
        if (id === 1) {
          let q = e + 4;
          const take = () => {
            if (q + 8 > e + 4 + len) throw corrupt(`short ZIP64 field in entry ${JSON.stringify(entryName)}`);
            const v = u64(q);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (csize === 0xffffffff) csize = take();
          if (local === 0xffffffff) local = take();
          found = true;
          break;
        }
        e += 4 + len;
      }
      if (!found) throw corrupt(`entry ${JSON.stringify(entryName)} lacks its ZIP64 sizes`);
    }
    if (flags & 1) throw new IoNotSupportedError(name, format, `entry ${JSON.stringify(entryName)} is encrypted`);
    if (local + 30 > bytes.length || u32(local) !== LOC_SIG) {
      throw corrupt(`entry ${JSON.stringify(entryName)}: bad local header offset ${local}`);
    }
    const dataOffset = local + 30 + u16(local + 26) + u16(local + 28);
    if (dataOffset + csize > bytes.length) {
      throw corrupt(`entry ${JSON.stringify(entryName)} claims ${csize} bytes past the end of the file`);
    }
    if (method === 0 && csize !== size) {
      throw corrupt(`stored entry ${JSON.stringify(entryName)} has size ${size} but ${csize} stored bytes`);
    }
    if (method === 8 && size > csize * MAX_DEFLATE_RATIO + 1024) {
      throw corrupt(`entry ${JSON.stringify(entryName)} claims ${size} bytes from ${csize} deflated bytes`);
    }
    entries.push({ name: entryName, method, compressedSize: csize, size, crc, dataOffset });
    spans.push({ start: local, end: dataOffset + csize, what: `entry ${JSON.stringify(entryName)}` });
    p = next;
  }
  // Disjoint entries hold at most the file's bytes, so together they claim about 1032 × its size at most.
  refuseOverlaps(spans, corrupt);
  return entries;
}

/** The total uncompressed size the entries claim. */
export function zipTotalSize(entries: ZipEntry[]): number {
  return entries.reduce((n, e) => n + e.size, 0);
}

/**
 * The uncompressed bytes of one entry, CRC-checked. Stored entries are views, not copies; a
 * deflated entry is inflated into one buffer of its claimed size and stops as soon as it gives more.
 */
export function extractZipEntry(bytes: Uint8Array, entry: ZipEntry, name: string, format = 'ZIP'): Uint8Array {
  const raw = bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === 0) out = raw;
  else if (entry.method === 8) out = inflateBounded(raw, entry.size, false, name, format, `entry ${JSON.stringify(entry.name)}`);
  else {
    throw new IoNotSupportedError(name, format, `entry ${JSON.stringify(entry.name)} uses compression method ${entry.method}`);
  }
  if (out.length !== entry.size) {
    throw new IoCorruptError(name, format, `entry ${JSON.stringify(entry.name)} inflates to ${out.length} bytes, not ${entry.size}`);
  }
  if (crc32(out) !== entry.crc) throw new IoCorruptError(name, format, `entry ${JSON.stringify(entry.name)}: CRC mismatch`);
  return out;
}

/** A ZIP archive of the given entries, deflated (level 6, like Python's zipfile) or stored. */
export function writeZip(entries: Record<string, Uint8Array>, compress: boolean): Uint8Array {
  const z: Zippable = {};
  for (const [k, v] of Object.entries(entries)) z[k] = [v, { level: compress ? 6 : 0 }];
  // A fixed timestamp keeps the output reproducible (numpy's archives use 1980-01-01 too).
  return zipSync(z, { mtime: new Date(1980, 0, 1, 0, 0, 0) });
}

// Node >= 20.15 has a native CRC-32 (about 15x faster than the table loop below).
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

let CRC_TABLE: Uint32Array | undefined;
export function crc32(b: Uint8Array): number {
  if (nativeCrc32) return nativeCrc32(b) >>> 0;
  return crc32js(b);
}

function crc32js(b: Uint8Array): number {
  let t = CRC_TABLE;
  if (!t) {
    t = CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function utf8(b: Uint8Array, corrupt: (d: string) => Error): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw corrupt('entry name is not valid UTF-8');
  }
}

// Names without the UTF-8 flag are CP437 in theory; numpy keys are ASCII in practice.
function cp437ish(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}
