/** export <scan|all> <out.tar.gz>: scans (or the whole database) as a tar.gz archive. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { exportArchive } from '../archive.js';
import { formatBytes } from '../output.js';
import { parseDbPath } from '../paths.js';

export function registerExport(program: Command, ctx: Context): void {
  program
    .command('export')
    .description('write a scan, or "all" (the whole database, marker included), to a .tar.gz archive')
    .argument('<scan>', 'a scan id, or "all"')
    .argument('<archive>', 'output file (.tar.gz); replaced atomically when it exists')
    .action(async (what: string, out: string) => {
      if (what !== 'all') parseDbPath(what, 1, 1);
      // Read-only: exporting never blocks (nor is blocked by) a writer.
      const db = await ctx.open();
      const all = what === 'all';
      const scans = all ? await db.listScans() : [(await db.getScan(what)).id];
      const result = await exportArchive(db, scans, resolve(out), { io: ctx.io, signal: ctx.signal, marker: all });
      ctx.out.result({ ...result, archive: resolve(out) }, () => `${out}: ${result.scans.length} scan(s), ${result.entries} entries, ${formatBytes(result.bytes)}`);
    });
}
