/** serve: plantdb's REST API over the database (read-only), until SIGINT or SIGTERM. */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { AccountStore, createServer, loadSecret } from '@romi/server';
import { UsageError, type Context } from '../context.js';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`invalid --port "${value}": a number from 0 to 65535`);
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new UsageError(`invalid --refresh-interval "${value}": a number of seconds (0: only on /refresh)`);
  return n;
}

export function registerServe(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description("serve plantdb's REST API (GET routes, webcache) over the database, read-only, until Ctrl-C or SIGTERM")
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '5000')
    .option('--prefix <path>', 'serve every route under this path, e.g. /api')
    .option('--no-rate-limit', 'no per-client request limits')
    .option('--refresh-interval <s>', 'look for changed scans this often (0: only on /refresh)', '10')
    .option('--quiet', 'no request log')
    .option('--jwt-secret-file <path>', 'accounts and tokens (/login…): the signing key, a file of mode 0600 (or ROMIDB_JWT_SECRET)')
    .option('--demo-users', "accounts with plantdb's guest/guest and admin/admin and a key of this run only: for tests and demos, never for real data")
    .action(async (opts: { host: string; port: string; prefix?: string; rateLimit: boolean; refreshInterval: string; quiet?: boolean; jwtSecretFile?: string; demoUsers?: boolean }) => {
      if (opts.prefix !== undefined && !/^\/[A-Za-z0-9._~\-/]*[^/]$/.test(opts.prefix)) throw new UsageError(`invalid --prefix "${opts.prefix}": a path such as /api`);
      const listenPort = port(opts.port);
      const refreshIntervalMs = seconds(opts.refreshInterval) * 1000;
      // Accounts only when asked for: with a key that outlives the process, or the demo users.
      const envSecret = process.env.ROMIDB_JWT_SECRET;
      const secret =
        opts.jwtSecretFile !== undefined || envSecret ? await loadSecret({ file: opts.jwtSecretFile, env: process.env }) : opts.demoUsers ? new Uint8Array(randomBytes(48)) : undefined;
      const db = await ctx.open();
      if (opts.demoUsers) {
        const accounts = new AccountStore((db as unknown as { backend: ConstructorParameters<typeof AccountStore>[0] }).backend);
        await accounts.ensureGuest();
        await accounts.ensureDemoAdmin();
        ctx.io.stderr.write('WARNING: --demo-users: the accounts guest/guest and admin/admin exist in this database; anyone can log in as admin. For tests and demos only.\n');
      }
      const app = await createServer({
        auth: secret ? { secret } : undefined,
        db,
        prefix: opts.prefix,
        rateLimit: opts.rateLimit ? undefined : false,
        refreshIntervalMs,
        logger: opts.quiet ? false : { level: 'info', stream: ctx.io.stderr },
      });
      let address: string;
      try {
        address = await app.listen({ host: opts.host, port: listenPort });
      } catch (err) {
        await app.close();
        throw err;
      }
      ctx.out.result({ url: `${address}${opts.prefix ?? ''}`, db: db.url }, () => [`serving ${db.url} at ${address}${opts.prefix ?? ''}/ (Ctrl-C to stop)`]);
      // Runs until the process is told to stop; then finishes the requests under way and disconnects.
      await new Promise<void>((resolve) => {
        if (!ctx.signal) return;
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await app.close();
    });
}
