/** Reading commands: ls, info, cat. They connect read-only, so they run beside a writer. */
import type { Command } from 'commander';
import { assertQuery, keys, type Backend, type Fileset, type Query } from '@romi/db-core';
import { UsageError, type Context } from '../context.js';
import { formatBytes, writeChunk } from '../output.js';
import { parseDbPath, parseJsonObject } from '../paths.js';

interface ListOptions {
  query?: string;
  fuzzy?: boolean;
}

export function registerBrowse(program: Command, ctx: Context): void {
  program
    .command('ls')
    .description('list scans, the filesets of a scan, or the files of a fileset')
    .argument('[path]', 'scan or scan/fileset')
    .option('--query <json>', 'keep objects whose metadata matches this JSON object')
    .option('--fuzzy', 'string values of the query are regular expressions')
    .action(async (path: string | undefined, opts: ListOptions) => {
      const where = parseDbPath(path, 0, 2);
      const query: Query | undefined = opts.query === undefined ? undefined : parseJsonObject(opts.query, '--query');
      try {
        assertQuery(query, !!opts.fuzzy);
      } catch (err) {
        throw new UsageError(`--query: ${(err as Error).message}`);
      }
      const filter = { query, fuzzy: !!opts.fuzzy, signal: ctx.signal };
      const db = await ctx.open();
      if (!where.scan) {
        const scans = await db.listScans(filter);
        ctx.out.result(scans, () => scans);
        return;
      }
      const scan = await db.getScan(where.scan);
      if (!where.fileset) {
        const filesets = await scan.listFilesets(filter);
        ctx.out.result(filesets, () => filesets);
        return;
      }
      const fileset = await scan.getFileset(where.fileset);
      const files = (await fileset.getFiles(filter)).map((f) => ({ id: f.id, filename: f.filename }));
      ctx.out.result(files, () => files.map((f) => `${f.id}\t${f.filename ?? '(not written)'}`));
    });

  program
    .command('info')
    .description('metadata, filesets, file counts and sizes of a scan')
    .argument('<scan>')
    .action(async (scanId: string) => {
      parseDbPath(scanId, 1, 1);
      const db = await ctx.open();
      const scan = await db.getScan(scanId);
      const metadata = await scan.getMetadata();
      const filesets: Array<Awaited<ReturnType<typeof filesetInfo>>> = [];
      for (const fileset of await scan.getFilesets()) filesets.push(await filesetInfo(db.backend, fileset, ctx.signal));
      const info = {
        id: scan.id,
        metadata,
        files: filesets.reduce((n, f) => n + f.files, 0),
        bytes: filesets.reduce((n, f) => n + f.bytes, 0),
        filesets,
      };
      ctx.out.result(info, () => [
        `scan      ${info.id}`,
        `metadata  ${JSON.stringify(metadata)}`,
        `total     ${info.files} files, ${formatBytes(info.bytes)}`,
        ...filesets.map((f) => `  ${f.id.padEnd(24)} ${String(f.files).padStart(6)} files  ${formatBytes(f.bytes).padStart(10)}${f.missing ? `  (${f.missing} missing)` : ''}`),
      ]);
    });

  program
    .command('cat')
    .description('write the bytes of a file to stdout')
    .argument('<path>', 'scan/fileset/file')
    .action(async (path: string) => {
      const where = parseDbPath(path, 3, 3);
      const db = await ctx.open();
      const file = await (await (await db.getScan(where.scan!)).getFileset(where.fileset!)).getFile(where.file!);
      for await (const chunk of file.readStream({ signal: ctx.signal }) as unknown as AsyncIterable<Uint8Array>) {
        await writeChunk(ctx.io.stdout, chunk);
      }
    });
}

/** Counts and sizes from one listing of the fileset folder (no read per file). */
async function filesetInfo(backend: Backend, fileset: Fileset, signal?: AbortSignal) {
  const sizes = new Map<string, number>();
  for await (const entry of backend.list(keys.filesetFolder(fileset.scan.id, fileset.id), { signal })) {
    if (entry.kind === 'object') sizes.set(entry.key, entry.size);
  }
  let bytes = 0;
  let missing = 0;
  const files = await fileset.getFiles();
  for (const file of files) {
    if (file.filename === null) continue;
    let size: number | undefined;
    try {
      size = sizes.get(keys.fileData(fileset.scan.id, fileset.id, file.filename));
    } catch {
      // A file name older tools wrote that cannot be a key: counted as missing (check reports it).
    }
    if (size === undefined) missing++;
    else bytes += size;
  }
  return { id: fileset.id, files: files.length, bytes, missing, metadata: await fileset.getMetadata() };
}
