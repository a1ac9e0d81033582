/** serve: plantdb's REST API over the database, until SIGINT or SIGTERM; writes with accounts only. */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { AccountStore, createServer, loadSecret } from '@romi/server';
import { UsageError, type Context } from '../context.js';
import { parseSize } from '../paths.js';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`invalid --port "${value}": a number from 0 to 65535`);
  return n;
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n) || value.trim() === '') throw new UsageError(`invalid ${flag} "${value}": a number of seconds`);
  return n;
}

interface ServeFlags {
  host: string;
  port: string;
  prefix?: string;
  rateLimit: boolean;
  refreshInterval: string;
  quiet?: boolean;
  jwtSecretFile?: string;
  uploadLimit: string;
  lockWait: string;
  idleTimeout: string;
  demoUsers?: boolean;
  viewer: boolean;
}

export function registerServe(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description("serve plantdb's REST API over the database until Ctrl-C or SIGTERM: read-only, or with accounts (--jwt-secret-file, --demo-users) plantdb's write routes too")
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '5000')
    .option('--prefix <path>', 'serve every route under this path, e.g. /api')
    .option('--no-rate-limit', 'no per-client request limits')
    .option('--refresh-interval <s>', 'look for changed scans this often (0: only on /refresh)', '10')
    .option('--quiet', 'no request log')
    .option('--jwt-secret-file <path>', 'accounts and tokens (/login…): the signing key, a file of mode 0600 (or ROMIDB_JWT_SECRET)')
    .option('--upload-limit <bytes>', 'largest upload (POST /file, /files, /archive; suffixes K, M, G, T)', '10G')
    .option('--lock-wait <s>', "how long a write waits for another writer's lock before answering 503", '3')
    .option('--idle-timeout <s>', 'close a connection on which nothing moved for this long', '120')
    .option('--no-viewer', 'do not serve the web viewer at /viewer/')
    .option('--demo-users', "accounts with plantdb's guest/guest and admin/admin and a key of this run only: for tests and demos, never for real data")
    .action(async (opts: ServeFlags) => {
      if (opts.prefix !== undefined && !/^\/[A-Za-z0-9._~\-/]*[^/]$/.test(opts.prefix)) throw new UsageError(`invalid --prefix "${opts.prefix}": a path such as /api`);
      const listenPort = port(opts.port);
      const refreshIntervalMs = seconds(opts.refreshInterval, '--refresh-interval') * 1000;
      const writes = { uploadLimit: parseSize(opts.uploadLimit, '--upload-limit'), lockWaitMs: seconds(opts.lockWait, '--lock-wait') * 1000 };
      const idleTimeoutMs = seconds(opts.idleTimeout, '--idle-timeout') * 1000;
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
        writes,
        idleTimeoutMs,
        viewer: opts.viewer,
        logger: opts.quiet ? false : { level: 'info', stream: ctx.io.stderr },
      });
      let address: string;
      try {
        address = await app.listen({ host: opts.host, port: listenPort });
      } catch (err) {
        await app.close();
        throw err;
      }
      ctx.out.result({ url: `${address}${opts.prefix ?? ''}`, db: db.url }, () => [
        `serving ${db.url} at ${address}${opts.prefix ?? ''}/ (Ctrl-C to stop)`,
        ...(opts.viewer ? [`the viewer: ${address}${opts.prefix ?? ''}/viewer/`] : []),
      ]);
      // Runs until the process is told to stop; then finishes the requests under way and disconnects.
      await new Promise<void>((resolve) => {
        if (!ctx.signal) return;
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await app.close();
    });
}
