/**
 * import images | folder | file | archive.
 *
 * Images and folders are written with the batch form createFiles() in chunks, so the index is
 * written once per chunk: a process killed midway leaves only data that files.json does not list
 * (or an empty fileset), which `romidb check` reports and `check --fix` re-indexes. Any other
 * failure, or Ctrl-C, removes what the command created.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_IMPORT_LIMITS, idProblem, InvalidArgumentError, mapLimit, type Fileset, type ImportLimits, type Metadata, type RomiDB, type Scan } from '@romi/db-core';
import { UsageError, type Context } from '../context.js';
import { importArchive } from '../archive.js';
import { formatBytes } from '../output.js';
import { parseDbPath, parseJsonObject, parsePositiveInt, parseSize, readJsonObjectFile } from '../paths.js';
import { startProgress } from '../progress.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** A chunk ends at this many files or bytes, whichever comes first. */
const CHUNK_FILES = 200;
const CHUNK_BYTES = 64 << 20;

interface LocalFile {
  path: string;
  id: string;
  ext: string;
  size: number;
}

/** Regular files of a folder (not recursive), sorted by name, with ids checked before any write. */
async function localFiles(folder: string, keep: (name: string) => boolean): Promise<LocalFile[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    throw new InvalidArgumentError(`Cannot read folder "${folder}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const names = entries.map((e) => e.name).filter((name) => !name.startsWith('.') && keep(name)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: LocalFile[] = [];
  const byId = new Map<string, string>();
  for (const name of names) {
    const path = join(folder, name);
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      throw new InvalidArgumentError(`Cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!info.isFile()) continue;
    const ext = extname(name);
    const id = name.slice(0, name.length - ext.length);
    const problem = idProblem('file', id);
    if (problem !== undefined) throw new InvalidArgumentError(`Cannot import "${path}": "${id}" is not a valid file id (${problem})`);
    const other = byId.get(id);
    if (other !== undefined) throw new InvalidArgumentError(`Cannot import "${path}": "${other}" has the same file id "${id}"`);
    byId.set(id, name);
    files.push({ path, id, ext: ext.slice(1), size: info.size });
  }
  return files;
}

/** The bytes of a local file to import; an unreadable one is a typed error naming it. */
async function readLocal(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`Cannot read "${path}": ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? (err as Error).message)}`);
  }
}

/** Writes `files` into `fileset` chunk by chunk (one index write per chunk). */
async function importChunks(ctx: Context, fileset: Fileset, files: LocalFile[], title: string): Promise<void> {
  const progress = startProgress(ctx.io, title, { total: files.length });
  try {
    let done = 0;
    while (done < files.length) {
      let end = done;
      let bytes = 0;
      while (end < files.length && end - done < CHUNK_FILES && (end === done || bytes + files[end]!.size <= CHUNK_BYTES)) bytes += files[end++]!.size;
      const chunk = files.slice(done, end);
      const items = await mapLimit(chunk, 8, async (f) => ({ id: f.id, ext: f.ext, data: await readLocal(f.path) }), ctx.signal);
      await fileset.createFiles(items, { signal: ctx.signal });
      done = end;
      progress.update(done, files.length, chunk[chunk.length - 1]!.id);
    }
  } finally {
    progress.stop();
  }
}

/** Runs `work`; if it fails, removes what it created (best effort) and rethrows. */
async function undoOnFailure<T>(ctx: Context, undo: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await undo().catch((cleanup: Error) => ctx.out.warn(`could not remove the partial import: ${cleanup.message}; run "romidb check"`));
    throw err;
  }
}

async function metadataOption(path: string | undefined, folder: string): Promise<Metadata | undefined> {
  if (path !== undefined) return readJsonObjectFile(path, 'metadata file');
  // Like plantdb's fsdb_import_images: <folder>/metadata.json when present.
  const implicit = join(folder, 'metadata.json');
  if (await stat(implicit).then((s) => s.isFile(), () => false)) return readJsonObjectFile(implicit, 'metadata file');
  return undefined;
}

async function getOrCreateScan(db: RomiDB, id: string): Promise<{ scan: Scan; created: boolean }> {
  if (await db.hasScan(id)) return { scan: await db.getScan(id), created: false };
  return { scan: await db.createScan(id), created: true };
}

export function registerImport(program: Command, ctx: Context): void {
  const imp = program.command('import').description('import images, a folder, a file, or a tar.gz archive');

  imp
    .command('images')
    .description('a folder of .png/.jpg/.jpeg images (any letter case, sorted by name) as a new scan with fileset "images"')
    .argument('<folder>')
    .option('--scan <name>', 'id of the new scan (default: the folder name)')
    .option('--metadata <file>', 'JSON object file: metadata of the images fileset (default: <folder>/metadata.json if present)')
    .action(async (folderArg: string, opts: { scan?: string; metadata?: string }) => {
      const folder = resolve(folderArg);
      const scanId = opts.scan ?? basename(folder);
      const metadata = await metadataOption(opts.metadata, folder);
      const files = await localFiles(folder, (name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()));
      if (files.length === 0) throw new InvalidArgumentError(`No .png, .jpg or .jpeg images in "${folder}"`);
      const db = await ctx.open({ write: true });
      const scan = await db.createScan(scanId);
      await undoOnFailure(ctx, () => db.deleteScan(scanId), async () => {
        const fileset = await scan.createFileset('images', { metadata });
        await importChunks(ctx, fileset, files, `import ${scanId}`);
      });
      const bytes = files.reduce((n, f) => n + f.size, 0);
      ctx.out.result({ scan: scanId, fileset: 'images', files: files.length, bytes }, () => `${scanId}/images: ${files.length} images, ${formatBytes(bytes)}`);
    });

  imp
    .command('folder')
    .description('every regular file of a folder (id = file name without extension) as a new fileset')
    .argument('<folder>')
    .requiredOption('--scan <name>', 'scan to add the fileset to (created if missing)')
    .option('--fileset <id>', 'id of the new fileset (default: the folder name)')
    .option('--metadata <file>', 'JSON object file: metadata of the new fileset')
    .action(async (folderArg: string, opts: { scan: string; fileset?: string; metadata?: string }) => {
      const folder = resolve(folderArg);
      const filesetId = opts.fileset ?? basename(folder);
      const metadata = opts.metadata === undefined ? undefined : await readJsonObjectFile(opts.metadata, 'metadata file');
      const files = await localFiles(folder, () => true);
      const db = await ctx.open({ write: true });
      const { scan, created } = await getOrCreateScan(db, opts.scan);
      // A createFileset that fails takes back its own writes: only a scan made here is left to remove.
      const fileset = await undoOnFailure(ctx, async () => void (created && (await db.deleteScan(opts.scan))), () => scan.createFileset(filesetId, { metadata }));
      await undoOnFailure(
        ctx,
        () => (created ? db.deleteScan(opts.scan) : scan.deleteFileset(filesetId)),
        () => importChunks(ctx, fileset, files, `import ${opts.scan}/${filesetId}`),
      );
      const bytes = files.reduce((n, f) => n + f.size, 0);
      ctx.out.result({ scan: opts.scan, fileset: filesetId, files: files.length, bytes }, () => `${opts.scan}/${filesetId}: ${files.length} files, ${formatBytes(bytes)}`);
    });

  imp
    .command('file')
    .description('one file into scan/fileset (both created if missing)')
    .argument('<file>')
    .argument('<target>', 'scan/fileset')
    .option('--id <id>', 'file id (default: the file name without extension)')
    .option('--metadata <json>', 'metadata of the file, a JSON object')
    .action(async (path: string, target: string, opts: { id?: string; metadata?: string }) => {
      const where = parseDbPath(target, 2, 2);
      const metadata = opts.metadata === undefined ? undefined : parseJsonObject(opts.metadata, '--metadata', { metadata: true });
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) throw new UsageError(`"${path}" is not a readable regular file`);
      const id = opts.id ?? basename(path, extname(path));
      const db = await ctx.open({ write: true });
      const { scan, created } = await getOrCreateScan(db, where.scan!);
      const newFileset = !(await scan.hasFileset(where.fileset!));
      // Only what this command created is removed if it fails.
      const undo = async () => {
        if (created) return db.deleteScan(scan.id);
        if (newFileset) return scan.deleteFileset(where.fileset!);
        if (await fileset.hasFile(id)) await fileset.deleteFile(id);
      };
      const fileset = newFileset ? await undoOnFailure(ctx, undo, () => scan.createFileset(where.fileset!)) : await scan.getFileset(where.fileset!);
      const file = await undoOnFailure(ctx, undo, () => fileset.createFile(id, { metadata }));
      await undoOnFailure(ctx, undo, () => file.importFile(path, { signal: ctx.signal }));
      ctx.out.result({ scan: scan.id, fileset: fileset.id, file: id, filename: file.filename, bytes: info.size }, () => `${scan.id}/${fileset.id}/${file.filename}: ${formatBytes(info.size)}`);
    });

  imp
    .command('archive')
    .description('the scans of a .tar.gz archive (made by "romidb export" or by tar from a database folder)')
    .argument('<archive>')
    .option('--max-size <bytes>', `refuse archives whose entries hold more (default ${formatBytes(DEFAULT_IMPORT_LIMITS.maxBytes)}; suffixes K, M, G, T)`)
    .option('--max-ratio <n>', `refuse archives expanding to more than n times their size (default ${DEFAULT_IMPORT_LIMITS.maxRatio})`)
    .option('--max-json-size <bytes>', `refuse larger files.json and metadata entries, which are read whole (default ${formatBytes(DEFAULT_IMPORT_LIMITS.maxJsonBytes)})`)
    .action(async (path: string, opts: { maxSize?: string; maxRatio?: string; maxJsonSize?: string }) => {
      const limits: Partial<ImportLimits> = {};
      if (opts.maxSize !== undefined) limits.maxBytes = parseSize(opts.maxSize, '--max-size');
      if (opts.maxRatio !== undefined) limits.maxRatio = parsePositiveInt(opts.maxRatio, '--max-ratio');
      if (opts.maxJsonSize !== undefined) limits.maxJsonBytes = parseSize(opts.maxJsonSize, '--max-json-size');
      const db = await ctx.open({ write: true });
      const result = await importArchive(db, resolve(path), { io: ctx.io, signal: ctx.signal, limits });
      for (const p of result.problems) ctx.out.warn(`check: ${p.kind} ${p.key ?? p.scan ?? ''}: ${p.detail}`);
      if (result.problems.length > 0) ctx.exitCode = 1;
      ctx.out.result(result, () => `imported ${result.scans.length} scan(s) (${result.scans.join(', ')}): ${result.entries} entries, ${formatBytes(result.bytes)}`);
    });
}
