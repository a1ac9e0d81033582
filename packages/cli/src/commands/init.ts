/** init: make the database location a romidb database (writes the `romidb` marker). */
import type { Command } from 'commander';
import type { Context } from '../context.js';

/** Makes `location` a database unless it is one; says whether it was created. */
export async function initDatabase(ctx: Context, location: string): Promise<{ url: string; created: boolean }> {
  const { db, created } = await ctx.init(location);
  return { url: db.url, created };
}

export function registerInit(program: Command, ctx: Context): void {
  program
    .command('init')
    .description('create a database at --db (a folder is created if needed; an s3: bucket must exist)')
    .action(async () => {
      const result = await initDatabase(ctx, ctx.location());
      ctx.out.result(result, () => (result.created ? `initialised ${result.url}` : `${result.url} is already a romidb database`));
    });
}
