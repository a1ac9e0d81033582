/** check [--fix] and unlock --force. */
import type { Command } from 'commander';
import { LOCK_NAME, MARKER_KEY, NotADatabaseError, NotSupportedError, type Problem } from '@romi/db-core';
import { UsageError, type Context } from '../context.js';
import { parseDbPath } from '../paths.js';

function describe(p: Problem): string {
  const where = p.key ?? [p.scan, p.fileset, p.file].filter(Boolean).join('/');
  return `${p.fixed ? 'fixed ' : ''}${p.kind}\t${where}\t${p.detail}`;
}

export function registerCheck(program: Command, ctx: Context): void {
  program
    .command('check')
    .description('report missing and unlisted files, corrupt JSON, orphan metadata, stale locks; exit 1 unless clean')
    .option('--fix', 're-index unlisted files and filesets, drop entries whose data is gone (files.json backed up); never deletes data')
    .option('--scan <id...>', 'only these scans')
    .action(async (opts: { fix?: boolean; scan?: string[] }) => {
      for (const scan of opts.scan ?? []) parseDbPath(scan, 1, 1);
      // A plain check is read-only, so it can run while a writer works.
      const db = await ctx.open({ write: !!opts.fix });
      const report = await db.check({ fix: !!opts.fix, scans: opts.scan, signal: ctx.signal });
      if (!report.ok) ctx.exitCode = 1;
      ctx.out.result(report, () => {
        const lines = report.problems.map(describe);
        const open = report.problems.filter((p) => !p.fixed).length;
        lines.push(report.ok ? (report.problems.length ? `ok: ${report.problems.length} problem(s) fixed` : 'ok') : `${open} problem(s)${opts.fix ? '' : ' (romidb check --fix repairs what is safe)'}`);
        return lines;
      });
    });

  program
    .command('unlock')
    .description('remove the writer lock, whoever holds it (only once no other program writes)')
    .option('--force', 'required: confirms that no other program uses the database')
    .action(async (opts: { force?: boolean }) => {
      if (!opts.force) throw new UsageError('unlock removes a lock another program may hold: run it again with --force once no other program uses the database');
      const location = ctx.location();
      const db = await ctx.make(location);
      const backend = db.backend;
      if (!(await backend.head(MARKER_KEY, { signal: ctx.signal }))) throw new NotADatabaseError(db.url);
      if (!backend.forceUnlock) throw new NotSupportedError(`${db.url}: this backend has no lock to remove`);
      const held = await backend.inspectLock?.(LOCK_NAME, { signal: ctx.signal });
      await backend.forceUnlock(LOCK_NAME);
      const result = { url: db.url, removed: held !== undefined, owner: held?.owner };
      ctx.out.result(result, () => (held ? `removed the lock of ${db.url}${held.owner ? ` (held by ${held.owner})` : ''}` : `${db.url} was not locked`));
    });
}
