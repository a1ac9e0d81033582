/**
 * plantdb 0.15's first write routes, served only with `auth`: POST /scan/<id> (create),
 * POST /scan/<id>/metadata, POST /fileset/<scan>/<fs> (create), POST /fileset/<scan>/<fs>/metadata
 * and POST /file/<scan>/<fs>/<f>/metadata (top-level merges).
 *
 * Writer coordination: the server's own connection stays read-only. Each write request checks
 * the permission on a fresh read-only view first (a refusal takes no lock and writes nothing),
 * then connects a second RomiDB over the same backend as the writer (waiting `lockWaitMs` for a
 * busy writer lock, then 503 ROMI_DB_BUSY with Retry-After), checks again under the lock, writes
 * through the DB API, disconnects (releasing the lock) and refreshes the catalog's entry for that
 * scan, so that this server's next read sees the write.
 *
 * The write is then recorded in the change journal (changes.ts) before the lock is released, so
 * that other servers on the same database see it at once. Uploads (upload.ts) go through the same
 * `write`.
 */
import { ErrorCodes, isPlainObject, isRomiError, KeyedMutex, RomiDB, type Metadata, type MetadataHolder, type Scan } from '@romi/db-core';
import type { FastifyReply } from 'fastify';
import { effectivePermissions, type Permission } from '../auth/tokens.js';
import { formatPythonDate } from '../auth/json-file.js';
import { anyJson, errorSchema, fileParams, filesetParams, scanParams, type RouteContext } from '../context.js';
import { assertRouteId, badRequest, HttpError, notFound } from '../http-errors.js';
import { authenticated, permissionsOf, ROLE_PERMISSIONS, type AuthContext } from './auth.js';

export interface WriteOptions {
  /** Largest JSON body of a write route, in bytes (default 1 MiB); larger is a 413. */
  bodyLimit?: number;
  /** How long a write waits for the database's writer lock held by another writer (default 3 s), then 503. */
  lockWaitMs?: number;
  /** Largest upload (POST /file, /files, /archive), in bytes (default 10 GiB); larger is a 413 and nothing is kept. */
  uploadLimit?: number;
  /** Where uploads are received before they are written to the database (default: the system's temp folder). */
  spoolDir?: string;
}

export const DEFAULT_WRITE_BODY_LIMIT = 1024 * 1024;
const DEFAULT_LOCK_WAIT_MS = 3000;
/** Seconds a client is told to wait after a 503 for a busy writer lock. */
const RETRY_AFTER_S = 2;

type Who = Awaited<ReturnType<typeof authenticated>>;

/** `{"metadata": {...}}` of a request body: the object, undefined when absent and optional, else plantdb's 400. */
function metadataOf(body: unknown, required: boolean): Metadata | undefined {
  if (!required && (body === undefined || body === null || (isPlainObject(body) && body.metadata === undefined))) return undefined;
  if (!isPlainObject(body) || !isPlainObject(body.metadata)) throw badRequest('Missing metadata in request body');
  return body.metadata;
}

const forbidden = (who: Who, what: string, scanId: string): HttpError =>
  new HttpError(403, 'ROMI_FORBIDDEN', `User "${who.account.username}" does not have the permission to ${what} in '${scanId}'`);

/**
 * What the request may do on a scan (plantdb's rule): the account's roles and extra
 * permissions; the scan's `owner`, or a member of one of its `sharing` groups, is a contributor
 * there too (administrators stay administrators); an API token limited to datasets keeps only
 * what its patterns matching the scan id grant. A scan without `owner` has no owner (plantdb
 * takes it as `guest`'s).
 */
async function scanPermissions(auth: AuthContext, who: Who, scanId: string, metadata: Metadata | undefined): Promise<Set<Permission>> {
  const perms = permissionsOf(who.account);
  if (metadata && !ROLE_PERMISSIONS.contributor.every((p) => perms.has(p))) {
    const name = who.account.username;
    let contributes = metadata.owner === name;
    const sharing = metadata.sharing;
    if (!contributes && Array.isArray(sharing) && sharing.length > 0) {
      const groups = new Set(sharing.filter((g): g is string => typeof g === 'string'));
      contributes = (await auth.accounts.listGroups()).some((g) => groups.has(g.name) && g.users.includes(name));
    }
    if (contributes) for (const p of ROLE_PERMISSIONS.contributor) perms.add(p);
  }
  return effectivePermissions(perms, who.token.datasets, scanId);
}

export interface WriteRequest<T> {
  who: Who;
  scanId: string;
  /** The permission needed on the scan. */
  need: Permission;
  /** What is refused, for the 403 message ("create a scan"). */
  what: string;
  /** POST /scan/<id>: the scan must not exist (409), and its permission is the global one. */
  creating?: boolean;
  /** Work between the permission check and the lock (receiving an upload): a slow client never holds the lock. */
  prepare?(): Promise<void>;
  /** The write itself, on the writer connection (its scan, when it exists). */
  run(db: RomiDB, scan: Scan | undefined): Promise<T>;
}

export function registerWriteRoutes(ctx: RouteContext, auth: AuthContext, opts: WriteOptions = {}) {
  const { app, backend, catalog } = ctx;
  const lockWaitMs = opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  const dbOptions = ctx.db instanceof RomiDB ? ctx.db.options : {};
  const turns = new KeyedMutex();
  const routeOptions = { ...ctx.limited('write'), bodyLimit: opts.bodyLimit ?? DEFAULT_WRITE_BODY_LIMIT };

  /** Checks the scan's existence and the permission on `db`; the scan when it exists. */
  async function authorize<T>(db: RomiDB, w: WriteRequest<T>): Promise<Scan | undefined> {
    const exists = await db.hasScan(w.scanId);
    if (!w.creating && !exists) throw notFound(`Scan '${w.scanId}' not found`);
    const scan = exists ? await db.getScan(w.scanId) : undefined;
    const perms = await scanPermissions(auth, w.who, w.scanId, scan && !w.creating ? await scan.getMetadata() : undefined);
    if (!perms.has(w.need)) throw forbidden(w.who, w.what, w.scanId);
    if (w.creating && exists) throw new HttpError(409, ErrorCodes.ALREADY_EXISTS, `Scan '${w.scanId}' already exists`);
    return scan;
  }

  async function write<T>(w: WriteRequest<T>, reply: FastifyReply): Promise<T> {
    // A refusal is decided on a fresh read-only view: no lock, nothing written.
    const view = new RomiDB(backend, dbOptions);
    await view.connect({ readOnly: true });
    try {
      await authorize(view, w);
    } finally {
      await view.disconnect();
    }
    await w.prepare?.();
    // This server's writes take turns here rather than polling the lock; the time spent waiting
    // for a turn counts against lockWaitMs.
    const deadline = Date.now() + lockWaitMs;
    return turns.run('writer', async () => {
      const writer = new RomiDB(backend, dbOptions);
      try {
        await writer.connect({ waitMs: Math.max(0, deadline - Date.now()) });
      } catch (err) {
        if (isRomiError(err, ErrorCodes.DB_BUSY)) {
          reply.header('Retry-After', String(RETRY_AFTER_S));
          throw new HttpError(503, ErrorCodes.DB_BUSY, 'The database is busy: another writer holds its lock. Try again later.');
        }
        throw err;
      }
      try {
        // Checked again under the lock: the scan or its sharing may have changed meanwhile.
        const result = await w.run(writer, await authorize(writer, w));
        await ctx.changes.record(w.scanId);
        return result;
      } finally {
        await writer.disconnect();
        await catalog.refresh(w.scanId);
      }
    });
  }

  /** A top-level merge into the metadata of the scan's object `target`; all of its metadata after it. */
  const merge = (reply: FastifyReply, who: Who, scanId: string, target: (scan: Scan) => Promise<MetadataHolder>, changes: () => Metadata): Promise<Metadata> =>
    write(
      {
        who,
        scanId,
        need: 'write',
        what: 'update metadata',
        run: async (_db, scan) => {
          const holder = await target(scan!);
          await holder.setMetadata(changes());
          return holder.getMetadata();
        },
      },
      reply,
    );

  const created = { type: 'object', properties: { message: { type: 'string' }, id: { type: 'string' } } } as const;
  const metadataAnswer = { type: 'object', properties: { metadata: anyJson } } as const;
  const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema, 503: errorSchema } as const;
  const bodyNote = 'Body: {"metadata": {...}}.';
  const schema = (summary: string, tag: string, params: object, ok: Record<number, object>) => ({ schema: { summary: `${summary} ${bodyNote}`, tags: [tag], params, response: { ...ok, ...errors } } });

  app.post<{ Params: { scanId: string }; Body: unknown }>(
    '/scan/:scanId',
    { ...routeOptions, ...schema('Create a scan (CREATE permission); owner, created, last_modified and created_by are added.', 'scans', scanParams, { 201: created }) },
    async (req, reply) => {
      const scanId = assertRouteId(req.params.scanId);
      const who = await authenticated(auth, req);
      const given = metadataOf(req.body, false) ?? {};
      await write(
        {
          who,
          scanId,
          need: 'create',
          what: 'create a scan',
          creating: true,
          run: async (db) => {
            const now = formatPythonDate(new Date());
            await db.createScan(scanId, { metadata: { ...given, owner: who.account.username, created: now, last_modified: now, created_by: who.account.fullname } });
          },
        },
        reply,
      );
      return reply.code(201).send({ message: 'Scan created successfully', id: scanId });
    },
  );

  app.post<{ Params: { scanId: string }; Body: unknown }>(
    '/scan/:scanId/metadata',
    { ...routeOptions, ...schema("Update a scan's metadata (WRITE on the scan): a top-level merge; owner is never changed, last_modified is set.", 'scans', scanParams, { 200: metadataAnswer }) },
    async (req, reply) => {
      const scanId = assertRouteId(req.params.scanId);
      const who = await authenticated(auth, req);
      const changes = { ...metadataOf(req.body, true) };
      delete changes.owner;
      const metadata = await merge(reply, who, scanId, async (scan) => scan, () => ({ ...changes, last_modified: formatPythonDate(new Date()) }));
      return { metadata };
    },
  );

  app.post<{ Params: { scanId: string; filesetId: string }; Body: unknown }>(
    '/fileset/:scanId/:filesetId',
    { ...routeOptions, ...schema('Create a fileset in a scan (WRITE on the scan).', 'filesets', filesetParams, { 201: created }) },
    async (req, reply) => {
      const scanId = assertRouteId(req.params.scanId);
      const filesetId = assertRouteId(req.params.filesetId);
      const who = await authenticated(auth, req);
      const metadata = metadataOf(req.body, false);
      await write(
        {
          who,
          scanId,
          need: 'write',
          what: 'create a fileset',
          run: async (_db, scan) => {
            if (await scan!.hasFileset(filesetId)) throw new HttpError(409, ErrorCodes.ALREADY_EXISTS, `Fileset '${filesetId}' already exists in '${scanId}'`);
            await scan!.createFileset(filesetId, { metadata });
          },
        },
        reply,
      );
      return reply.code(201).send({ message: `Fileset created successfully in '${scanId}'.`, id: filesetId });
    },
  );

  // Fileset and file metadata: a top-level merge, nothing added (plantdb's `owner` and `last_modified` are the scan's).
  const holders = [
    { path: '/fileset/:scanId/:filesetId/metadata', what: "a fileset's", tag: 'filesets', params: filesetParams },
    { path: '/file/:scanId/:filesetId/:fileId/metadata', what: "a file's", tag: 'files', params: fileParams },
  ] as const;
  for (const holder of holders) {
    app.post<{ Params: { scanId: string; filesetId: string; fileId?: string }; Body: unknown }>(
      holder.path,
      { ...routeOptions, ...schema(`Update ${holder.what} metadata (WRITE on the scan): a top-level merge.`, holder.tag, holder.params, { 200: metadataAnswer }) },
      async (req, reply) => {
        const scanId = assertRouteId(req.params.scanId);
        const filesetId = assertRouteId(req.params.filesetId);
        const fileId = req.params.fileId === undefined ? undefined : assertRouteId(req.params.fileId);
        const who = await authenticated(auth, req);
        const changes = metadataOf(req.body, true)!;
        const metadata = await merge(
          reply,
          who,
          scanId,
          async (scan) => {
            const fileset = await scan.getFileset(filesetId);
            return fileId === undefined ? fileset : fileset.getFile(fileId);
          },
          () => changes,
        );
        return { metadata };
      },
    );
  }

  return { write, errors, created };
}

/** What the upload routes share with these: the write itself and the answers' schemas. */
export type WriteRoutes = ReturnType<typeof registerWriteRoutes>;
