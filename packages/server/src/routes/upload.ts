/**
 * plantdb 0.15's uploads, served only with `auth`:
 * - POST /file/<scan>/<fs>/<f>: multipart `ext` (plantdb's list), `metadata` (JSON), then `file`;
 * - POST /files/<scan>: the raw body, stored at `X-File-Path` = `<fileset>/<file>.<ext>` inside
 *   the scan (nothing else is accepted: no way out of the scan) and registered in files.json,
 *   the fileset made when it is missing;
 * - POST /archive/<id>: multipart `zip_file`, a whole scan (zip-import.ts validates it).
 *
 * Each upload is received into a temporary file (the spool, never memory) after the permission
 * check and before the writer lock is taken: a slow client never holds the database's lock, a
 * client gone mid-upload leaves nothing in storage, and `uploadLimit` bounds it (413). Each kind
 * of body has its parser in its own Fastify context: the multipart parser reaches only the two
 * multipart routes and the raw one only /files, so the JSON write routes refuse other bodies (415).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multipart, { type Multipart, type MultipartFile } from '@fastify/multipart';
import { ErrorCodes, isPlainObject, isRomiError, type Fileset, type Metadata } from '@romi/db-core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorSchema, fileParams, scanParams, type RouteContext } from '../context.js';
import { assertRouteId, badRequest, HttpError } from '../http-errors.js';
import { importZipScan } from '../zip-import.js';
import { authenticated, type AuthContext } from './auth.js';
import { DEFAULT_WRITE_BODY_LIMIT, type WriteOptions, type WriteRequest, type WriteRoutes } from './write.js';

const DEFAULT_UPLOAD_LIMIT = 10 * 1024 ** 3;
/** plantdb's extensions of an uploaded file. */
const UPLOAD_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.tif', '.txt', '.json', '.ply', '.yaml', '.toml'];

/** `ext` of an upload: plantdb's list, lower-cased, with or without the dot; the extension without its dot. */
function uploadExtension(value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw badRequest("'ext' field is required");
  const ext = value.trim().toLowerCase();
  const dotted = ext.startsWith('.') ? ext : `.${ext}`;
  if (!UPLOAD_EXTENSIONS.includes(dotted)) throw badRequest(`Invalid file extension. Must be one of: ${UPLOAD_EXTENSIONS.join(', ')}`);
  return dotted.slice(1);
}

/** `metadata` of an upload: a JSON object, undefined when absent, else a 400. */
function uploadMetadata(value: string | undefined): Metadata | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw badRequest("'metadata' must be a JSON object");
  }
  if (!isPlainObject(parsed)) throw badRequest("'metadata' must be a JSON object");
  return parsed;
}

/** `X-File-Path` of POST /files: `<fileset>/<file>.<ext>`, each part a valid id. */
function datasetFilePath(value: string | string[] | undefined): { filesetId: string; fileId: string; ext: string; path: string } {
  if (typeof value !== 'string' || value === '') throw badRequest('Missing required header: X-File-Path');
  const shape = /^([^/]+)\/([^/]+)\.([A-Za-z0-9]{1,16})$/.exec(value);
  if (!shape) throw badRequest(`X-File-Path must be "<fileset>/<file>.<ext>" inside the scan (got "${value}")`);
  return { filesetId: assertRouteId(shape[1]!), fileId: assertRouteId(shape[2]!), ext: shape[3]!.toLowerCase(), path: value };
}

/**
 * An error met while reading a request body: the client's fault (a 400) unless it is a storage
 * or file-system error of ours (which stays a 500) or already has a status.
 */
function bodyError(err: unknown): unknown {
  const e = err as { statusCode?: number; syscall?: string; message?: string };
  if (err instanceof HttpError || isRomiError(err) || e?.syscall !== undefined || typeof e?.statusCode === 'number') return err;
  return badRequest(`Malformed request body: ${e?.message ?? String(err)}`);
}

const tooLarge = (limit: number): HttpError => new HttpError(413, ErrorCodes.INVALID_ARGUMENT, `The upload is larger than the limit (${limit} bytes)`);

/** An upload received whole into a temporary file. */
interface Spooled {
  path: string;
  size: number;
  dispose(): Promise<void>;
}

/** Receives `source` into a new temporary file under `dir`; more than `limit` bytes (or `cut()` once it ended) is a 413. */
async function spool(dir: string, source: Readable, limit: number, cut: () => boolean = () => false): Promise<Spooled> {
  const folder = await mkdtemp(join(dir, 'romidb-upload-'));
  const path = join(folder, 'body');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(size > limit ? tooLarge(limit) : null, chunk);
    },
  });
  const dispose = () => rm(folder, { recursive: true, force: true });
  try {
    await pipeline(source, counter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    if (cut()) throw tooLarge(limit);
  } catch (err) {
    await dispose();
    throw bodyError(err);
  }
  return { path, size, dispose };
}

/** A new file of `fileset` holding the spooled bytes; removed again when they cannot all be written. */
async function writeNewFile(fileset: Fileset, fileId: string, body: Spooled, ext: string, metadata?: Metadata): Promise<void> {
  const entry = await fileset.createFile(fileId, { metadata });
  try {
    await entry.writeStream(createReadStream(body.path), ext);
  } catch (err) {
    await fileset.deleteFile(fileId);
    throw err;
  }
}

/** The parts of a multipart request: the fields before the file part named `name`, and that part (undefined when none). */
async function fieldsAndFile(parts: AsyncIterator<Multipart>, name: string): Promise<{ fields: Map<string, string>; file: MultipartFile | undefined }> {
  const fields = new Map<string, string>();
  for (;;) {
    const next = await parts.next().catch((err: unknown) => Promise.reject(bodyError(err)));
    if (next.done) return { fields, file: undefined };
    const part = next.value;
    if (part.type === 'file') {
      if (part.fieldname === name) return { fields, file: part };
      part.file.resume();
      continue;
    }
    if (typeof part.value === 'string' && !fields.has(part.fieldname)) fields.set(part.fieldname, part.value);
  }
}

/** Reads whatever follows the file part to the end (a limit passed or a broken body fails here). */
async function rest(parts: AsyncIterator<Multipart>): Promise<void> {
  for (;;) {
    const next = await parts.next().catch((err: unknown) => Promise.reject(bodyError(err)));
    if (next.done) return;
    if (next.value.type === 'file') next.value.file.resume();
  }
}

/**
 * A refused upload is not read to its end: what is left of the body is discarded and the
 * connection closed after the answer, so that it blocks neither the connection nor the client.
 */
function closeOnRefusal(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && !req.raw.readableEnded) {
      void reply.header('connection', 'close');
      req.raw.unpipe();
      req.raw.resume();
    }
    return payload;
  });
}

export function registerUploadRoutes(ctx: RouteContext, auth: AuthContext, { write, errors, created }: WriteRoutes, opts: WriteOptions): void {
  const limit = opts.uploadLimit ?? DEFAULT_UPLOAD_LIMIT;
  const dir = opts.spoolDir ?? tmpdir();
  const limited = ctx.limited('write');

  /** The file part, spooled, and the rest of the multipart body read (a broken body fails here). */
  async function receivePart(file: MultipartFile, parts: AsyncIterator<Multipart>): Promise<Spooled> {
    const body = await spool(dir, file.file, limit, () => file.file.truncated);
    try {
      await rest(parts);
    } catch (err) {
      await body.dispose();
      throw err;
    }
    return body;
  }

  /** A write whose body is received (`receive`) once the permission is checked, and removed after. */
  async function upload<T>(w: Omit<WriteRequest<T>, 'prepare' | 'run'>, receive: () => Promise<Spooled>, run: (body: Spooled, ...args: Parameters<WriteRequest<T>['run']>) => Promise<T>, reply: FastifyReply): Promise<T> {
    let body: Spooled | undefined;
    try {
      const prepare = async () => {
        body = await receive();
        // Received: from here on the server works (a large archive can take minutes) and the
        // client waits without sending, which is not the stall the idle timeout is for.
        reply.raw.socket?.setTimeout(0);
      };
      return await write({ ...w, prepare, run: (db, scan) => run(body!, db, scan) }, reply);
    } finally {
      await body?.dispose();
    }
  }

  // The two multipart routes, with the multipart parser in their context only.
  void ctx.app.register(async (app: FastifyInstance) => {
    closeOnRefusal(app);
    await app.register(multipart, { limits: { fileSize: limit, files: 1, fields: 16, parts: 32, fieldSize: opts.bodyLimit ?? DEFAULT_WRITE_BODY_LIMIT } });

    app.post<{ Params: { scanId: string; filesetId: string; fileId: string } }>(
      '/file/:scanId/:filesetId/:fileId',
      {
        ...limited,
        schema: {
          summary: "Upload a file into a fileset (WRITE on the scan). Multipart: `ext` (plantdb's list), `metadata` (a JSON object, optional), then `file`.",
          tags: ['files'],
          params: fileParams,
          response: { 201: created, ...errors },
        },
      },
      async (req, reply) => {
        const scanId = assertRouteId(req.params.scanId);
        const filesetId = assertRouteId(req.params.filesetId);
        const fileId = assertRouteId(req.params.fileId);
        const who = await authenticated(auth, req);
        if (!req.isMultipart()) throw badRequest('No file provided');
        const parts = req.parts()[Symbol.asyncIterator]();
        const { fields, file } = await fieldsAndFile(parts, 'file');
        if (!file) throw badRequest('No file provided');
        const ext = uploadExtension(fields.get('ext'));
        const metadata = uploadMetadata(fields.get('metadata'));
        await upload(
          { who, scanId, need: 'write', what: 'upload a file' },
          () => receivePart(file, parts),
          async (body, _db, scan) => {
            const fileset = await scan!.getFileset(filesetId);
            if (await fileset.hasFile(fileId)) throw new HttpError(409, ErrorCodes.ALREADY_EXISTS, `File '${fileId}' already exists in '${scanId}/${filesetId}'`);
            await writeNewFile(fileset, fileId, body, ext, metadata);
          },
          reply,
        );
        return reply.code(201).send({ message: `File created and written successfully in fileset '${filesetId}'.`, id: fileId });
      },
    );

    app.post<{ Params: { scanId: string } }>(
      '/archive/:scanId',
      {
        ...limited,
        schema: {
          summary: 'Create a scan from a ZIP archive (CREATE permission): multipart `zip_file`, the scan\'s files at the top or under one folder. Validated whole before anything is written.',
          tags: ['scans'],
          params: scanParams,
          response: { 200: { type: 'object', properties: { message: { type: 'string' }, files: { type: 'array', items: { type: 'string' } } } }, ...errors },
        },
      },
      async (req, reply) => {
        const scanId = assertRouteId(req.params.scanId);
        const who = await authenticated(auth, req);
        if (!req.isMultipart()) throw badRequest('No zip_file provided');
        const parts = req.parts()[Symbol.asyncIterator]();
        const { file } = await fieldsAndFile(parts, 'zip_file');
        if (!file) throw badRequest('No zip_file provided');
        const files = await upload(
          { who, scanId, need: 'create', what: 'create a scan', creating: true },
          () => receivePart(file, parts),
          async (body, db) => (await importZipScan(db, scanId, body.path, { owner: who.account.username, fullname: who.account.fullname })).files,
          reply,
        );
        return { message: 'ZIP file processed successfully', files };
      },
    );
  });

  // POST /files/<scan>: the body as it comes, whatever its type, never parsed.
  void ctx.app.register(async (app: FastifyInstance) => {
    closeOnRefusal(app);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null));
    app.post<{ Params: { scanId: string } }>(
      '/files/:scanId',
      {
        ...limited,
        schema: {
          summary: 'Store the raw body as a file of the scan (WRITE on the scan): header `X-File-Path: <fileset>/<file>.<ext>` and a Content-Length; the file is registered in files.json, its fileset made if missing.',
          tags: ['files'],
          params: scanParams,
          response: { 201: { type: 'object', properties: { message: { type: 'string' } } }, 411: errorSchema, ...errors },
        },
      },
      async (req, reply) => {
        const scanId = assertRouteId(req.params.scanId);
        const who = await authenticated(auth, req);
        const target = datasetFilePath(req.headers['x-file-path']);
        const declared = Number(req.headers['content-length']);
        if (req.headers['content-length'] === undefined) throw new HttpError(411, ErrorCodes.INVALID_ARGUMENT, 'Content-Length is required');
        if (!(declared > 0)) throw badRequest('Content-Length must be greater than 0');
        if (declared > limit) throw tooLarge(limit);
        await upload(
          { who, scanId, need: 'write', what: 'upload a file' },
          () => spool(dir, req.raw, limit),
          async (body, _db, scan) => {
            const madeFileset = !(await scan!.hasFileset(target.filesetId));
            const fileset = madeFileset ? await scan!.createFileset(target.filesetId) : await scan!.getFileset(target.filesetId);
            if (!madeFileset && (await fileset.hasFile(target.fileId))) {
              throw new HttpError(409, ErrorCodes.ALREADY_EXISTS, `File '${target.fileId}' already exists in '${scanId}/${target.filesetId}'`);
            }
            try {
              await writeNewFile(fileset, target.fileId, body, target.ext);
            } catch (err) {
              if (madeFileset) await scan!.deleteFileset(target.filesetId);
              throw err;
            }
          },
          reply,
        );
        return reply.code(201).send({ message: `File ${target.path} received and saved` });
      },
    );
  });
}
