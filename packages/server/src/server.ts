/**
 * createServer: plantdb 0.15's REST API (the reading side) over any romidb database, on
 * Fastify. Routes are in routes/, scanInfo in scan-info.ts, its cache in catalog.ts, file
 * answers in send.ts, thumbnails and previews in webcache.ts.
 */
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { InvalidArgumentError, openDB, type Backend, type DB } from '@romi/db-core';
import { ScanCatalog } from './catalog.js';
import { ChangeJournal } from './changes.js';
import { DEFAULT_RATE_LIMITS, type RateLimitGroup, type RouteContext } from './context.js';
import { assertRouteId, describeError } from './http-errors.js';
import { registerAssetRoutes } from './routes/assets.js';
import { registerBaseRoutes } from './routes/base.js';
import { registerDataRoutes } from './routes/data.js';
import { registerScanRoutes } from './routes/scans.js';
import { Webcache, type WebcacheOptions } from './webcache.js';
import { drainOnClose } from './drain.js';
import { TokenService, type TokenServiceOptions } from './auth/tokens.js';
import { AccountStore, type AccountStoreOptions } from './auth/users.js';
import { authenticated, registerAuthRoutes } from './routes/auth.js';
import { registerWriteRoutes, type WriteOptions } from './routes/write.js';
import { registerUploadRoutes } from './routes/upload.js';
import { registerViewerRoutes } from './routes/viewer.js';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface ServerOptions {
  /** The database: an object (connected read-only here if it is not connected), or a location for openDB. */
  db: DB | string;
  /** Serve every route under this path (e.g. '/api'). */
  prefix?: string;
  /** Fastify's logger: false (default), true, or pino options. */
  logger?: FastifyServerOptions['logger'];
  /** Access-Control-Allow-Origin: '*' (default, as plantdb), false for none, or allowed origins. */
  cors?: boolean | string[];
  /** Requests per minute and client per route group (DEFAULT_RATE_LIMITS), or false for none. */
  rateLimit?: false | Partial<Record<RateLimitGroup, number>>;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy?: boolean;
  /** How often changed scans are looked for, in ms (default 10 s; 0: only on /refresh). See catalog.ts. */
  refreshIntervalMs?: number;
  /** Parallel storage reads when building many scan infos (default 16). */
  concurrency?: number;
  webcache?: WebcacheOptions;
  /**
   * Accounts and tokens (plantdb's /login, /logout, /register, /token-*, /create-api-token): the
   * signing secret (`loadSecret`) and options of the token service and account store. Without
   * it those routes do not exist.
   */
  auth?: { secret: Uint8Array; tokens?: Omit<TokenServiceOptions, 'backend' | 'secret'>; accounts?: AccountStoreOptions };
  /**
   * A connection on which nothing is received or sent for this long is closed (default 120 s):
   * a client that stalls mid-upload, or stops reading a download, frees its connection.
   */
  idleTimeoutMs?: number;
  /** The write routes (served only with `auth`): body size limit (1 MiB) and wait for a busy writer lock (3 s). See routes/write.ts. */
  writes?: WriteOptions;
  /**
   * The web viewer (@romi/viewer, built) at `<prefix>/viewer/` (default true); false: not served.
   * A string: another built viewer folder to serve there.
   */
  viewer?: boolean | string;
}

/** Routes whose answers never come from the server's caches (nor need the change journal). */
const UNCACHED_ROUTES = new Set(['/', '/health', '/files/*', '/openapi.json', '/docs', '/login', '/viewer', '/viewer/*']);

/** The romidb database a DB object is (the server reads its storage directly for files and the webcache). */
function backendOf(db: DB): Backend {
  const backend = (db as { backend?: Backend }).backend;
  if (!backend || typeof backend.getStream !== 'function') throw new InvalidArgumentError('createServer needs a database made by romidb (FSDB, MemDB, S3DB or openDB)');
  return backend;
}

/**
 * A Fastify instance answering plantdb's GET routes; `listen()` it, `close()` it (which stops
 * the background refresh and disconnects a database it connected itself).
 */
export async function createServer(opts: ServerOptions): Promise<FastifyInstance> {
  const db = typeof opts.db === 'string' ? await openDB(opts.db) : opts.db;
  const backend = backendOf(db);
  const ownConnection = !db.isConnected;
  if (ownConnection) await db.connect({ readOnly: true });

  const prefix = opts.prefix ?? '';
  const app = Fastify({
    logger: opts.logger ?? false,
    trustProxy: opts.trustProxy ?? false,
    connectionTimeout: opts.idleTimeoutMs ?? 120_000,
    // Long paths are refused by the routes themselves, with a JSON answer.
    routerOptions: { maxParamLength: 4096, ignoreDuplicateSlashes: false },
  });
  const catalog = new ScanCatalog(db, backend, {
    concurrency: opts.concurrency ?? 16,
    onError: (err) => app.log.warn({ err }, 'background refresh failed'),
  });
  const changes = new ChangeJournal(backend, {
    forget: async (scanId) => {
      try {
        await catalog.refresh(scanId);
      } catch {
        await catalog.refresh();
      }
    },
    onError: (err) => app.log.warn({ err }, 'the change journal cannot be written: other servers see this write after their next background pass'),
  });
  let warnedReadOnly = false;
  const webcache = new Webcache(backend, {
    ...opts.webcache,
    onWriteError: (err, key) => {
      if (!warnedReadOnly) app.log.warn({ err, key }, 'webcache entries cannot be written: previews are made for each request');
      warnedReadOnly = true;
      opts.webcache?.onWriteError?.(err, key);
    },
  });
  const drain = drainOnClose(app.server);
  app.addHook('preClose', async () => drain());
  app.addHook('onClose', async () => {
    await catalog.stop();
    if (ownConnection) await db.disconnect();
  });

  app.setErrorHandler((err, req, reply) => {
    const described = describeError(err);
    const validation = (err as { validation?: Array<{ instancePath?: string }>; validationContext?: string }).validation;
    if (validation && (err as { validationContext?: string }).validationContext === 'params') {
      const field = validation[0]?.instancePath?.replace(/^\//, '') ?? '';
      try {
        assertRouteId(String((req.params as Record<string, unknown>)[field] ?? ''));
      } catch (idError) {
        described.body.message = (idError as Error).message;
      }
    }
    if (described.internal) req.log.error({ err }, 'request failed');
    return reply.code(described.status).type('application/json; charset=utf-8').send(described.body);
  });

  if (opts.cors !== false) await app.register(cors, { origin: opts.cors === undefined || opts.cors === true ? '*' : opts.cors });
  // JSON only: images, clouds and archives are compressed already or too big to be worth it.
  await app.register(compress, { encodings: ['gzip'], customTypes: /^application\/json\b/ });
  const limits = opts.rateLimit === false ? undefined : { ...DEFAULT_RATE_LIMITS, ...opts.rateLimit };
  if (limits) {
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_req, context) => ({ statusCode: 429, message: `Rate limit exceeded. Please try again in ${Math.ceil(context.ttl / 1000)} s.`, code: 'ROMI_RATE_LIMITED' }),
    });
  }
  await app.register(swagger, {
    openapi: {
      info: { title: 'romidb REST API (plantdb 0.15 compatible)', version: VERSION, description: 'The plantdb REST API over a romidb database (local folder, memory or S3).' },
      tags: ['base', 'scans', 'filesets', 'files', 'assets', 'auth'].map((name) => ({ name })),
    },
  });

  await app.register(
    async (scope) => {
      const ctx: RouteContext = {
        app: scope,
        db,
        backend,
        catalog,
        changes,
        webcache,
        limited: (group) => (limits ? { config: { rateLimit: { max: limits[group], timeWindow: 60_000 } } } : {}),
      };
      // Answers made from what this server caches wait for a look at the change journal, so that
      // a write through another server is seen at once. Stored files are read from storage anyway.
      scope.addHook('onRequest', async (req) => {
        const route = req.routeOptions.url;
        // Writes check on fresh connections of their own (routes/write.ts).
        if ((req.method !== 'GET' && req.method !== 'HEAD') || route === undefined || UNCACHED_ROUTES.has(route.slice(prefix.length))) return;
        await changes.sync();
      });
      const auth = opts.auth && {
        accounts: new AccountStore(backend, opts.auth.accounts),
        tokens: new TokenService({ onError: (err) => app.log.warn({ err }, 'token pruning failed'), ...opts.auth.tokens, backend, secret: opts.auth.secret }),
      };
      if (auth) {
        // Reads are open to all, as plantdb's; but a token sent with one must be valid: a client
        // whose token expired or was revoked learns it (401) instead of reading as nobody unawares.
        scope.addHook('onRequest', async (req) => {
          if ((req.method === 'GET' || req.method === 'HEAD') && /^Bearer\s/i.test(req.headers.authorization ?? '') && req.routeOptions.url?.slice(prefix.length) !== '/login') await authenticated(auth, req);
        });
      }
      registerBaseRoutes(ctx, VERSION);
      registerScanRoutes(ctx);
      registerDataRoutes(ctx);
      registerAssetRoutes(ctx);
      if (opts.viewer !== false) registerViewerRoutes(scope, typeof opts.viewer === 'string' ? opts.viewer : undefined);
      if (auth) {
        registerAuthRoutes(ctx, auth);
        registerUploadRoutes(ctx, auth, registerWriteRoutes(ctx, auth, opts.writes), opts.writes ?? {});
      }
    },
    { prefix },
  );

  await changes.start();
  await app.ready();
  catalog.start(opts.refreshIntervalMs ?? 10_000);
  return app;
}
