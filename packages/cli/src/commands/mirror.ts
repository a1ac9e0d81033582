/** mirror <src> <dst>: make dst's scans byte-identical to src's, between any two backends. */
import type { Command } from 'commander';
import { mirror } from '@romi/db-core';
import type { Context } from '../context.js';
import { formatBytes } from '../output.js';
import { parsePositiveInt } from '../paths.js';
import { initDatabase } from './init.js';
import { startProgress } from '../progress.js';

interface MirrorFlags {
  delete?: boolean;
  dryRun?: boolean;
  concurrency?: string;
  scan?: string[];
  init?: boolean;
}

export function registerMirror(program: Command, ctx: Context): void {
  program
    .command('mirror')
    .description('copy what differs from <src> to <dst> (incremental: an unchanged second run copies nothing)')
    .argument('<src>', 'source database (path or URL), read only')
    .argument('<dst>', 'destination database (path or URL), locked while mirroring')
    .option('--delete', 'remove from <dst> what <src> no longer has')
    .option('--dry-run', 'report what would be done, write nothing')
    .option('--concurrency <n>', 'objects copied at once', '8')
    .option('--scan <id...>', 'only these scans')
    .option('--init', 'make <dst> a database first if it is not one')
    .action(async (srcLocation: string, dstLocation: string, opts: MirrorFlags) => {
      const concurrency = parsePositiveInt(opts.concurrency ?? '8', '--concurrency');
      // Both are made here, so that a bad location is a usage error and both get closed.
      if (opts.init && !opts.dryRun) await initDatabase(ctx, dstLocation);
      const src = await ctx.make(srcLocation);
      const dst = await ctx.make(dstLocation);
      const progress = startProgress(ctx.io, opts.dryRun ? 'mirror (dry run)' : 'mirror');
      let result;
      try {
        result = await mirror(src, dst, {
          delete: !!opts.delete,
          dryRun: !!opts.dryRun,
          concurrency,
          scans: opts.scan,
          signal: ctx.signal,
          onProgress: (e) => progress.update(e.loaded, e.total, e.key ?? e.phase),
        });
      } finally {
        progress.stop();
      }
      // Keys an object store may hold but a file system cannot: said, and the run fails.
      for (const key of result.conflicts) ctx.out.warn(`not copied: "${key}" is also the name of a folder in the source`);
      if (result.conflicts.length > 0) ctx.exitCode = 1;
      const verb = opts.dryRun ? 'would copy' : 'copied';
      ctx.out.result(
        { ...result, dryRun: !!opts.dryRun, src: src.url, dst: dst.url },
        () => `${verb} ${result.copied} object(s) (${formatBytes(result.bytes)}), skipped ${result.skipped}, ${opts.dryRun ? 'would delete' : 'deleted'} ${result.deleted}`,
      );
    });
}
