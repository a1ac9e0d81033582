/** meta get | set: the metadata of a scan, fileset or file. */
import type { Command } from 'commander';
import { NotFoundError, type MetadataHolder, type RomiDB } from '@romi/db-core';
import { UsageError, type Context } from '../context.js';
import { parseDbPath, parseValue, readJsonObjectFile } from '../paths.js';

/** The scan, fileset or file a path names. */
async function holderAt(db: RomiDB, path: string): Promise<MetadataHolder> {
  const where = parseDbPath(path, 1, 3);
  const scan = await db.getScan(where.scan!);
  if (!where.fileset) return scan;
  const fileset = await scan.getFileset(where.fileset);
  if (!where.file) return fileset;
  return fileset.getFile(where.file);
}

export function registerMeta(program: Command, ctx: Context): void {
  const meta = program.command('meta').description('read or change metadata');

  meta
    .command('get')
    .description('print the metadata of a scan, fileset or file (or one key of it)')
    .argument('<path>', 'scan, scan/fileset or scan/fileset/file')
    .argument('[key]', 'one top-level key')
    .action(async (path: string, key: string | undefined) => {
      const db = await ctx.open();
      const holder = await holderAt(db, path);
      if (key === undefined) {
        const all = await holder.getMetadata();
        ctx.out.result(all, () => JSON.stringify(all, null, 2));
        return;
      }
      const value = await holder.getMetadata(key);
      if (value === undefined) throw new NotFoundError(`No metadata key "${key}" on "${path}"`);
      // Strings print bare, so that `$(romidb meta get …)` gives the value itself.
      ctx.out.result(value, () => (typeof value === 'string' ? value : JSON.stringify(value, null, 2)));
    });

  meta
    .command('set')
    .description('set one key (value parsed as JSON when it parses, else a string), or merge a JSON file')
    .argument('<path>', 'scan, scan/fileset or scan/fileset/file')
    .argument('[key]')
    .argument('[value]')
    .option('--file <json>', 'merge the top-level keys of this JSON object file')
    .action(async (path: string, key: string | undefined, value: string | undefined, opts: { file?: string }) => {
      parseDbPath(path, 1, 3);
      let changes: Record<string, unknown>;
      if (opts.file !== undefined) {
        if (key !== undefined) throw new UsageError('give either <key> <value> or --file, not both');
        changes = await readJsonObjectFile(opts.file, 'metadata file');
      } else {
        if (key === undefined || value === undefined) throw new UsageError('meta set needs <path> <key> <value>, or <path> --file x.json');
        changes = { [key]: parseValue(value) };
      }
      const db = await ctx.open({ write: true });
      const holder = await holderAt(db, path);
      await holder.setMetadata(changes);
      const all = await holder.getMetadata();
      ctx.out.result(all, () => []);
    });
}
