/**
 * The ROMI folder layout (docs/architecture.md): which key holds what, the names romidb keeps
 * for itself, and the files.json index. This is the only place that knows them; backends only
 * see keys and bytes.
 */
import { CorruptDataError } from './errors.js';
import { formatPythonJson, formatString, isPlainObject, jsonProblem, parseJsonTree } from './json.js';
import { keyProblem, toKey, type Key } from './key.js';

export const MARKER_KEY = 'romidb' as Key;
export const LOCK_NAME = 'lock';
export const INDEX_NAME = 'files.json';
export const METADATA_DIR = 'metadata';
const MEASURES_NAME = 'measures.json';
const WEBCACHE_DIR = 'webcache';

export type IdKind = 'scan' | 'fileset' | 'file';

/** Names that collide with the layout at each level. */
export const RESERVED_IDS: Readonly<Record<IdKind, ReadonlySet<string>>> = {
  scan: new Set([MARKER_KEY, LOCK_NAME]),
  fileset: new Set([METADATA_DIR, INDEX_NAME, MEASURES_NAME, WEBCACHE_DIR]),
  file: new Set(),
};

/** Folders inside a scan that are not filesets. */
export const NOT_FILESETS: ReadonlySet<string> = new Set([METADATA_DIR, WEBCACHE_DIR]);

/** Names romidb keeps for itself in storage (temporary files, trash, markers, manifests). */
export const INTERNAL_PREFIX = '.romidb-';

/** Whether a key is, or lies under, one of romidb's own entries. */
export function isInternalKey(key: string): boolean {
  return key.startsWith(INTERNAL_PREFIX) || key.includes(`/${INTERNAL_PREFIX}`);
}

/**
 * Marks a scan folder that an operation is filling (an archive import, say) until it is
 * complete: check() reports a folder still marked, and check --fix removes it (it was vacant
 * when claimed, so all of it was written by that operation) or, once complete, the marker.
 */
export const PENDING_NAME = `${INTERNAL_PREFIX}pending`;

/** Prefixes the marker of a file's old data during a rewrite with another extension. */
export const REPLACED_PREFIX = `${INTERNAL_PREFIX}replaced-`;

/**
 * romidb's record of which folders of the root are scans, so that listing a large database
 * need not look into every folder (see RomiDB's scan list). A cache: it only confirms folders
 * a listing finds, and a folder it does not name is looked into.
 */
export const SCAN_LIST_KEY = toKey(`${INTERNAL_PREFIX}scans.json`);

/** Where mirror keeps what it copied, per source and scan. */
const MIRROR_MANIFESTS = `${INTERNAL_PREFIX}mirror`;

/** A leftover of a killed writer: a temporary file or a trash folder (see the fs backend). */
export function isLeftoverName(name: string): boolean {
  return name.startsWith(INTERNAL_PREFIX) && (name.endsWith('.tmp') || name.startsWith(`${INTERNAL_PREFIX}trash-`));
}

/** The name check --fix saves a files.json under before it drops entries (n > 0 when taken). */
function indexBackupName(date: Date, n: number): string {
  const stamp = date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '_');
  return `files_${stamp}${n === 0 ? '' : `_${n}`}.json`;
}

/** Why a name read from storage (a file name in files.json, a folder) cannot be part of a key. */
export function storedNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  return keyProblem(name);
}

/** The keys of the layout, checked once here: backends take them as they are. */
export const keys = {
  scanFolder: (scan: string) => toKey(`${scan}/`),
  index: (scan: string) => toKey(`${scan}/${INDEX_NAME}`),
  measures: (scan: string) => toKey(`${scan}/${MEASURES_NAME}`),
  pending: (scan: string) => toKey(`${scan}/${PENDING_NAME}`),
  scanMetadata: (scan: string) => toKey(`${scan}/${METADATA_DIR}/metadata.json`),
  metadataFolder: (scan: string) => toKey(`${scan}/${METADATA_DIR}/`),
  filesetFolder: (scan: string, fs: string) => toKey(`${scan}/${fs}/`),
  filesetMetadata: (scan: string, fs: string) => toKey(`${scan}/${METADATA_DIR}/${fs}.json`),
  fileMetadataFolder: (scan: string, fs: string) => toKey(`${scan}/${METADATA_DIR}/${fs}/`),
  fileMetadata: (scan: string, fs: string, file: string) => toKey(`${scan}/${METADATA_DIR}/${fs}/${file}.json`),
  fileData: (scan: string, fs: string, filename: string) => toKey(`${scan}/${fs}/${filename}`),
  indexBackup: (scan: string, date: Date, n: number) => toKey(`${scan}/${indexBackupName(date, n)}`),
  mirrorManifest: (source: string, scan: string) => toKey(`${MIRROR_MANIFESTS}/${source}/${scan}.json`),
  /** Marks `dataKey` as the old version of a file being rewritten with another extension. */
  replacedMarker: (dataKey: Key) => {
    const slash = dataKey.lastIndexOf('/');
    return toKey(`${dataKey.slice(0, slash + 1)}${REPLACED_PREFIX}${dataKey.slice(slash + 1)}`);
  },
};

export interface FileNode {
  file: string | null;
  id: string;
  [extra: string]: unknown;
}

interface EncodedEntries {
  buf: Uint8Array;
  /** ends[i]: byte offset just after entry i (each entry is preceded by its separator). */
  ends: number[];
}

export interface FilesetNode {
  files: FileNode[];
  id: string;
  [extra: string]: unknown;
}

const encoder = new TextEncoder();

const I2 = ' '.repeat(8);
const I3 = ' '.repeat(12);
const I4 = ' '.repeat(16);

/**
 * The parsed files.json of one scan. Keeps the whole tree (unknown keys included) so that
 * rewriting it changes only what a mutation meant to change. Lookups are O(1).
 */
export class ScanIndex {
  readonly root: Record<string, unknown> & { filesets: FilesetNode[] };
  #filesets = new Map<string, FilesetNode>();
  #files = new Map<FilesetNode, Map<string, FileNode>>();

  private constructor(root: Record<string, unknown> & { filesets: FilesetNode[] }) {
    this.root = root;
    // First entry wins when an older tool wrote duplicates.
    for (const fs of root.filesets) if (!this.#filesets.has(fs.id)) this.#filesets.set(fs.id, fs);
  }

  static empty(): ScanIndex {
    return new ScanIndex({ filesets: [] });
  }

  /** Validates the structure; anything unexpected is a CorruptDataError naming `key`. */
  static parse(bytes: Uint8Array, key: string): ScanIndex {
    let tree: unknown;
    try {
      // Keeps the text of the numbers an index rarely holds, at little more than JSON.parse's cost.
      tree = parseJsonTree(bytes);
    } catch (err) {
      throw new CorruptDataError(key, jsonProblem(err), { cause: err });
    }
    if (!isPlainObject(tree)) throw new CorruptDataError(key, 'files.json is not a JSON object');
    if (!Array.isArray(tree.filesets)) throw new CorruptDataError(key, '"filesets" is not a list');
    tree.filesets.forEach((fs: unknown, i: number) => {
      if (!isPlainObject(fs) || typeof fs.id !== 'string') throw new CorruptDataError(key, `fileset #${i} has no string "id"`);
      if (fs.files === undefined) return;
      if (!Array.isArray(fs.files)) throw new CorruptDataError(key, `fileset "${fs.id}": "files" is not a list`);
      fs.files.forEach((f: unknown, j: number) => {
        if (!isPlainObject(f) || typeof f.id !== 'string') throw new CorruptDataError(key, `fileset "${fs.id}": file #${j} has no string "id"`);
        if (f.file !== undefined && f.file !== null && typeof f.file !== 'string') {
          throw new CorruptDataError(key, `file "${fs.id}/${f.id}": "file" is not a string or null`);
        }
      });
    });
    return new ScanIndex(tree as ScanIndex['root']);
  }

  get filesets(): readonly FilesetNode[] {
    return this.root.filesets;
  }

  filesetIds(): string[] {
    return [...this.#filesets.keys()];
  }

  fileset(id: string): FilesetNode | undefined {
    return this.#filesets.get(id);
  }

  #fileMap(fs: FilesetNode): Map<string, FileNode> {
    let map = this.#files.get(fs);
    if (!map) {
      map = new Map();
      for (const f of fs.files ?? []) if (!map.has(f.id)) map.set(f.id, f);
      this.#files.set(fs, map);
    }
    return map;
  }

  fileIds(fsId: string): string[] {
    const fs = this.#filesets.get(fsId);
    return fs ? [...this.#fileMap(fs).keys()] : [];
  }

  file(fsId: string, fileId: string): FileNode | undefined {
    const fs = this.#filesets.get(fsId);
    return fs ? this.#fileMap(fs).get(fileId) : undefined;
  }

  /** Filename of a file entry: null when never written (or "file" missing). */
  static filenameOf(node: FileNode): string | null {
    return typeof node.file === 'string' ? node.file : null;
  }

  addFileset(id: string): FilesetNode {
    const node: FilesetNode = { files: [], id };
    this.root.filesets.push(node);
    this.#filesets.set(id, node);
    return node;
  }

  removeFileset(id: string): void {
    this.root.filesets = this.root.filesets.filter((fs) => fs.id !== id);
    const node = this.#filesets.get(id);
    if (node) {
      this.#files.delete(node);
      this.#encoded.delete(node);
    }
    this.#filesets.delete(id);
  }

  addFile(fsId: string, id: string, file: string | null = null): FileNode {
    const fs = this.#filesets.get(fsId)!;
    fs.files ??= [];
    const node: FileNode = { file, id };
    fs.files.push(node);
    this.#fileMap(fs).set(id, node);
    return node;
  }

  removeFile(fsId: string, id: string): void {
    const fs = this.#filesets.get(fsId)!;
    this.#touch(fs, (fs.files ?? []).findIndex((f) => f.id === id));
    fs.files = (fs.files ?? []).filter((f) => f.id !== id);
    this.#fileMap(fs).delete(id);
  }

  /** Sets the file name of an entry (the only way entries change after creation). */
  setFilename(fsId: string, id: string, filename: string): void {
    const fs = this.#filesets.get(fsId)!;
    const node = this.file(fsId, id)!;
    this.#touch(fs, fs.files.lastIndexOf(node));
    node.file = filename;
  }

  /**
   * The encoded entries of each fileset's "files" list, kept between writes: a change at
   * entry i re-encodes entries i… only. Creating or renaming the newest file of a 10,000-file
   * fileset then costs one entry's encoding plus a copy, not a new serialisation of every entry.
   */
  #encoded = new Map<FilesetNode, EncodedEntries>();

  /** Where serialize() assembles files.json, kept between writes. */
  #out = new Uint8Array(0);

  #touch(fs: FilesetNode, index: number): void {
    const enc = this.#encoded.get(fs);
    if (enc && index >= 0 && index < enc.ends.length) enc.ends.length = index;
  }

  #filesBytes(fs: FilesetNode): Uint8Array {
    let enc = this.#encoded.get(fs);
    if (!enc) {
      enc = { buf: new Uint8Array(1024), ends: [] };
      this.#encoded.set(fs, enc);
    }
    const files = fs.files;
    if (enc.ends.length > files.length) enc.ends.length = files.length;
    let len = enc.ends.length === 0 ? 0 : enc.ends[enc.ends.length - 1]!;
    for (let i = enc.ends.length; i < files.length; i++) {
      const bytes = encoder.encode(`${i === 0 ? '\n' : ',\n'}${I4}${formatPythonJson(files[i], 4)}`);
      if (len + bytes.length > enc.buf.length) {
        const grown = new Uint8Array(Math.max(enc.buf.length * 2, len + bytes.length));
        grown.set(enc.buf.subarray(0, len));
        enc.buf = grown;
      }
      enc.buf.set(bytes, len);
      len += bytes.length;
      enc.ends.push(len);
    }
    return enc.buf.subarray(0, len);
  }

  /**
   * files.json's bytes. They stay valid until the next serialize() of this index (the buffer is
   * reused): write them before changing and serializing it again.
   */
  serialize(): Uint8Array {
    const plain = (fs: FilesetNode): boolean => {
      const k = Object.keys(fs);
      return k.length === 2 && Array.isArray(fs.files) && typeof fs.id === 'string' && k.includes('files') && k.includes('id');
    };
    // The common shape is written from cached parts (same bytes as formatPythonJson); anything else generically.
    if (Object.keys(this.root).length !== 1 || !this.root.filesets.every(plain)) return encoder.encode(formatPythonJson(this.root));
    const filesets = this.root.filesets;
    if (filesets.length === 0) return encoder.encode('{\n    "filesets": []\n}');
    // The parts between the cached entries are short strings, encoded straight into the output.
    const parts: Array<string | Uint8Array> = [`{\n    "filesets": [\n${I2}`];
    filesets.forEach((fs, k) => {
      const files = fs.files.length === 0 ? null : this.#filesBytes(fs);
      parts.push(`${k === 0 ? '' : `,\n${I2}`}{\n${I3}"files": ${files ? '[' : '[]'}`);
      if (files) parts.push(files, `\n${I3}]`);
      parts.push(`,\n${I3}"id": ${formatString(fs.id)}\n${I2}}`);
    });
    parts.push('\n    ]\n}');
    // Assembled in a buffer kept between writes: a new 0.7 MB array per write of a 10,000-file
    // index cost more in allocation and garbage collection than the copy itself.
    const most = parts.reduce((n, p) => n + (typeof p === 'string' ? p.length * 3 : p.byteLength), 0);
    if (this.#out.byteLength < most) this.#out = new Uint8Array(Math.max(most, this.#out.byteLength * 2));
    let offset = 0;
    for (const p of parts) {
      if (typeof p === 'string') offset += encoder.encodeInto(p, this.#out.subarray(offset)).written;
      else {
        this.#out.set(p, offset);
        offset += p.byteLength;
      }
    }
    return this.#out.subarray(0, offset);
  }
}
