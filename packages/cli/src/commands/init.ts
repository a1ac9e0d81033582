/** init: make the database location a romidb database (writes the `romidb` marker). */
import type { Command } from 'commander';
import { MARKER_KEY, NotSupportedError } from '@romi/db-core';
import type { Context } from '../context.js';

/** Writes the marker at `location` unless it is there; returns whether it was created. */
interface S3Module {
  parseS3Url(location: string): object;
  S3DB: { init(opts: object): Promise<{ close(): Promise<void> }> };
}

export async function initDatabase(ctx: Context, location: string): Promise<{ url: string; created: boolean }> {
  const db = await ctx.make(location);
  if (await db.backend.head(MARKER_KEY, { signal: ctx.signal })) return { url: db.url, created: false };
  const protocol = new URL(db.url).protocol;
  if (protocol === 'file:') {
    const { FSDB } = await import('@romi/fsdb');
    await FSDB.init((db as InstanceType<typeof FSDB>).path);
  } else if (protocol === 's3:') {
    // Credentials come from the AWS environment, never from the URL.
    // Typed locally: the CLI only needs these two entry points of @romi/s3db.
    const { S3DB, parseS3Url } = (await import('@romi/s3db')) as unknown as S3Module;
    const created = await S3DB.init({ ...parseS3Url(location), signal: ctx.signal });
    await created.close();
  } else {
    throw new NotSupportedError(`Cannot initialise ${db.url}`);
  }
  return { url: db.url, created: true };
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
