/** /scans, /scans_info, /scan/<id> (and /scans/<id>), scan metadata and filesets, /refresh. */
import { assertQuery, isPlainObject, type Query } from '@romi/db-core';
import type { ScanFilter } from '../catalog.js';
import { anyJson, errorSchema, scanParams, type RouteContext } from '../context.js';
import { assertRouteId, badRequest, notFound, parseFlag } from '../http-errors.js';
import { scanInfoSchema } from './schemas.js';

const filterQuerystring = {
  type: 'object',
  properties: {
    filterQuery: { type: 'string', description: 'A JSON metadata query (plantdb), or plain text searched in ids and metadata, case-insensitively' },
    fuzzy: { type: 'string', description: 'true: the JSON query values are regular expressions' },
  },
} as const;

/** A query parameter holding plantdb's JSON metadata query (400 when it is not one). */
export function parseJsonQuery(text: string | undefined, fuzzy: boolean, name: string): Query | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let query: unknown;
  try {
    query = JSON.parse(text);
  } catch {
    throw badRequest(`Invalid JSON format in ${name} parameter.`);
  }
  if (!isPlainObject(query)) throw badRequest(`The ${name} parameter must be a JSON object of metadata keys and values`);
  assertQuery(query, fuzzy);
  return query;
}

/** `filterQuery`: JSON is plantdb's query; anything else is a plain-text search (what the viewer's search box sends). */
function parseFilter(filterQuery: string | undefined, fuzzyFlag: string | undefined): ScanFilter {
  const fuzzy = parseFlag(fuzzyFlag, 'fuzzy');
  if (filterQuery === undefined || filterQuery.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(filterQuery);
  } catch {
    return { kind: 'text', text: filterQuery.trim() };
  }
  if (!isPlainObject(parsed)) return { kind: 'text', text: filterQuery.trim() };
  return { kind: 'query', query: parseJsonQuery(filterQuery, fuzzy, 'filterQuery')!, fuzzy };
}

type FilterQs = { filterQuery?: string; fuzzy?: string };
type KeyQs = { key?: string };

/** Whether an Accept-Encoding header allows gzip (by name, x-gzip or *, with a weight above 0). */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return ['gzip', 'x-gzip', '*'].includes(name!.trim()) && (q === undefined || Number(q.slice(2)) > 0);
  });
}

export function registerScanRoutes(ctx: RouteContext): void {
  const { app, catalog, db } = ctx;

  app.get<{ Querystring: FilterQs }>(
    '/scans',
    {
      ...ctx.limited('api'),
      schema: { summary: 'Ids of the scans, sorted', tags: ['scans'], querystring: filterQuerystring, response: { 200: { type: 'array', items: { type: 'string' } }, 400: errorSchema } },
    },
    async (req) => catalog.listIds(parseFilter(req.query.filterQuery, req.query.fuzzy)),
  );

  app.get<{ Querystring: FilterQs }>(
    '/scans_info',
    {
      ...ctx.limited('api'),
      schema: {
        summary: 'The scanInfo of every scan (a scan that cannot be read is listed with error: true)',
        tags: ['scans'],
        querystring: filterQuerystring,
        response: { 200: { type: 'array', items: scanInfoSchema }, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const answer = await catalog.listJson(parseFilter(req.query.filterQuery, req.query.fuzzy));
      reply.type('application/json; charset=utf-8').header('Vary', 'Accept-Encoding');
      // Gzipped once per change of the list, not on every request (the compress plugin would).
      if (acceptsGzip(req.headers['accept-encoding'])) return reply.header('Content-Encoding', 'gzip').send(await answer.gzipped());
      return reply.send(answer.bytes);
    },
  );

  for (const path of ['/scan/:scanId', '/scans/:scanId']) {
    app.get<{ Params: { scanId: string } }>(
      path,
      {
        ...ctx.limited('api'),
        schema: {
          summary: path.startsWith('/scans/') ? 'Alias of /scan/<scanId> (the route name of plantdb 0.14, which viewers call)' : "A scan's scanInfo",
          tags: ['scans'],
          params: scanParams,
          response: { 200: scanInfoSchema, 404: errorSchema },
        },
      },
      async (req) => catalog.info(assertRouteId(req.params.scanId)),
    );
  }

  app.get<{ Params: { scanId: string }; Querystring: KeyQs }>(
    '/scan/:scanId/metadata',
    {
      ...ctx.limited('api'),
      schema: {
        summary: "A scan's metadata (with the object, hardware and acquisition_date of its images fileset, as plantdb shows them), or one key of it",
        tags: ['scans'],
        params: scanParams,
        querystring: { type: 'object', properties: { key: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { metadata: anyJson } }, 404: errorSchema },
      },
    },
    async (req) => {
      const md = await catalog.metadata(assertRouteId(req.params.scanId));
      return { metadata: pick(md, req.query.key) };
    },
  );

  app.get<{ Params: { scanId: string }; Querystring: { query?: string; fuzzy?: string } }>(
    '/scan/:scanId/filesets',
    {
      ...ctx.limited('api'),
      schema: {
        summary: "Ids of a scan's filesets, in index order",
        tags: ['scans'],
        params: scanParams,
        querystring: { type: 'object', properties: { query: { type: 'string', description: 'A JSON metadata query' }, fuzzy: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { filesets: { type: 'array', items: { type: 'string' } } } }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const fuzzy = parseFlag(req.query.fuzzy, 'fuzzy');
      const query = parseJsonQuery(req.query.query, fuzzy, 'query');
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      return { filesets: await scan.listFilesets({ query, fuzzy }) };
    },
  );

  app.get<{ Querystring: { scan_id?: string } }>(
    '/refresh',
    {
      ...ctx.limited('refresh'),
      schema: {
        summary: 'Forget what the server knows of one scan, or of all, and read it again',
        tags: ['base'],
        querystring: { type: 'object', properties: { scan_id: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { message: { type: 'string' } } }, 404: errorSchema },
      },
    },
    async (req) => {
      const id = req.query.scan_id;
      if (id === undefined || id === '') {
        await catalog.refresh();
        return { message: `Successfully reloaded entire database with ${(await db.listScans()).length} scans.` };
      }
      assertRouteId(id);
      await catalog.refresh(id);
      // Unlike plantdb, an unknown id is not added to the list.
      if (!(await db.hasScan(id))) throw notFound(`Unknown scan id '${id}'`);
      return { message: `Successfully reloaded scan '${id}'.` };
    },
  );
}

/** `?key=`: the value of one key, `{}` when it is missing (as plantdb answers). */
export function pick(md: Record<string, unknown>, key: string | undefined): unknown {
  if (key === undefined || key === '') return md;
  return Object.prototype.hasOwnProperty.call(md, key) ? md[key] : {};
}
