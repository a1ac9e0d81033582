/** Filesets and files: metadata, file lists, a file's bytes, and /files/<path> under a scan. */
import { isInternalKey, keys, storedNameProblem, toKey, type Key } from '@romi/db-core';
import { anyJson, errorSchema, fileParams, filesetParams, routeFile, type RouteContext } from '../context.js';
import { assertRouteId, badRequest, notFound, parseFlag } from '../http-errors.js';
import { sendObject } from '../send.js';
import { parseJsonQuery, pick } from './scans.js';

const keyQuerystring = { type: 'object', properties: { key: { type: 'string', description: 'Answer only this key ({} when missing)' } } } as const;
const metadataAnswer = { type: 'object', properties: { metadata: anyJson } } as const;
const binary = { description: 'The stored bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } as const;

/**
 * The key a /files/<path> request names, or a 404. Only data inside an existing scan is served:
 * never the database root's own files (users.json, groups.json, the marker, the lock), dot-names,
 * romidb's temporary and internal entries, or anything a `..`, `\` or encoded `/` could reach.
 */
async function filesKey(ctx: RouteContext, path: string): Promise<Key> {
  const segments = path.split('/');
  const refused = (): never => {
    throw notFound(`No file at '/files/${path}'`);
  };
  if (segments.length < 2) refused();
  for (const s of segments) {
    if (s === '' || s.startsWith('.') || s.includes('\\') || storedNameProblem(s) !== undefined) refused();
  }
  const key = toKey(segments.join('/'));
  if (isInternalKey(key) || /\.tmp$/i.test(key)) refused();
  if (!(await ctx.db.hasScan(segments[0]!))) refused();
  return key;
}

export function registerDataRoutes(ctx: RouteContext): void {
  const { app, db, backend } = ctx;

  app.get<{ Params: { scanId: string; filesetId: string }; Querystring: { key?: string } }>(
    '/fileset/:scanId/:filesetId/metadata',
    {
      ...ctx.limited('api'),
      schema: { summary: "A fileset's metadata, or one key of it", tags: ['filesets'], params: filesetParams, querystring: keyQuerystring, response: { 200: metadataAnswer, 404: errorSchema } },
    },
    async (req) => {
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      const fileset = await scan.getFileset(assertRouteId(req.params.filesetId));
      return { metadata: pick(await fileset.getMetadata(), req.query.key) };
    },
  );

  app.get<{ Params: { scanId: string; filesetId: string }; Querystring: { query?: string; fuzzy?: string } }>(
    '/fileset/:scanId/:filesetId/files',
    {
      ...ctx.limited('api'),
      schema: {
        summary: "Ids of a fileset's files, in index order",
        tags: ['filesets'],
        params: filesetParams,
        querystring: { type: 'object', properties: { query: { type: 'string', description: 'A JSON metadata query' }, fuzzy: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { files: { type: 'array', items: { type: 'string' } } } }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const fuzzy = parseFlag(req.query.fuzzy, 'fuzzy');
      const query = parseJsonQuery(req.query.query, fuzzy, 'query');
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      const fileset = await scan.getFileset(assertRouteId(req.params.filesetId));
      return { files: await fileset.listFiles({ query, fuzzy }) };
    },
  );

  app.get<{ Params: { scanId: string; filesetId: string; fileId: string } }>(
    '/file/:scanId/:filesetId/:fileId',
    {
      ...ctx.limited('files'),
      schema: { summary: "A file's bytes (ranges, ETag, 304)", tags: ['files'], params: fileParams, response: { 200: binary, 404: errorSchema } },
    },
    async (req, reply) => {
      const { scanId, filesetId, fileId } = req.params;
      const file = await routeFile(db, scanId, filesetId, fileId);
      if (!file.filename) throw notFound(`File '${fileId}' of fileset '${filesetId}' has no data`);
      return sendObject(req, reply, backend, keys.fileData(scanId, filesetId, file.filename));
    },
  );

  app.get<{ Params: { scanId: string; filesetId: string; fileId: string }; Querystring: { key?: string } }>(
    '/file/:scanId/:filesetId/:fileId/metadata',
    {
      ...ctx.limited('api'),
      schema: { summary: "A file's metadata, or one key of it", tags: ['files'], params: fileParams, querystring: keyQuerystring, response: { 200: metadataAnswer, 404: errorSchema } },
    },
    async (req) => {
      const { scanId, filesetId, fileId } = req.params;
      const file = await routeFile(db, scanId, filesetId, fileId);
      return { metadata: pick(await file.getMetadata(), req.query.key) };
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/files/*',
    {
      ...ctx.limited('files'),
      schema: {
        summary: 'A stored file by its path under a scan (e.g. <scan>/files.json, <scan>/<fileset>/<file>.<ext>)',
        tags: ['files'],
        params: { type: 'object', properties: { '*': { type: 'string', description: 'The path, starting with the scan id' } } },
        response: { 200: binary, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const path = req.params['*'];
      if (path.length > 4096) throw badRequest('Path too long');
      return sendObject(req, reply, backend, await filesKey(ctx, path));
    },
  );
}
