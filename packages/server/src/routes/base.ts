/** `/` (what the API is), `/health`, `/openapi.json` and `/docs` (a page listing the routes). */
import type { RouteContext } from '../context.js';

const ENDPOINTS = {
  'base endpoints': {
    '/': 'Provides general information about the PlantDB REST API.',
    '/health': 'Health-check endpoint that verifies the API is operational.',
    '/refresh': 'Refreshes the database, or one scan with ?scan_id=<id>.',
    '/openapi.json': 'The OpenAPI document of this server.',
    '/docs': 'A page listing the routes.',
  },
  'scans endpoints': {
    '/scans': 'Returns a list of all available scans.',
    '/scans_info': 'Provides a table containing scan metadata.',
    '/scan/<scan_id>': 'Retrieves an existing scan (also /scans/<scan_id>).',
    '/scan/<scan_id>/metadata': 'Gets metadata for the specified scan.',
    '/scan/<scan_id>/filesets': 'Lists the filesets belonging to the specified scan.',
  },
  'filesets endpoints': {
    '/fileset/<scan_id>/<fileset_id>/metadata': 'Gets metadata for the specified fileset.',
    '/fileset/<scan_id>/<fileset_id>/files': 'Lists the files contained in the specified fileset.',
  },
  'files endpoints': {
    '/file/<scan_id>/<fileset_id>/<file_id>': 'Retrieves an existing file.',
    '/file/<scan_id>/<fileset_id>/<file_id>/metadata': 'Gets metadata for the specified file.',
  },
  'assets endpoints': {
    '/archive/<scan_id>': 'Downloads the archive for the given scan.',
    '/files/<path>': 'Retrieves a file located at the specified path.',
    '/image/<scan_id>/<fileset_id>/<file_id>': 'Returns a specific image.',
    '/pointcloud/<scan_id>/<fileset_id>/<file_id>': 'Returns a specific point-cloud file.',
    '/pcGroundTruth/<scan_id>/<fileset_id>/<file_id>': 'Returns a ground-truth point-cloud file.',
    '/mesh/<scan_id>/<fileset_id>/<file_id>': 'Returns a specific mesh file.',
    '/sequence/<scan_id>': 'Returns sequence data for the given scan.',
    '/skeleton/<scan_id>': 'Returns curve-skeleton data for the given scan.',
  },
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function registerBaseRoutes(ctx: RouteContext, version: string): void {
  const { app, db } = ctx;

  app.get('/', { ...ctx.limited('api'), schema: { summary: 'What this API is, and its routes', tags: ['base'] } }, async () => ({
    name: 'PlantDB REST API',
    description: 'RESTful API for querying PlantDB, served by romidb',
    server: `romidb ${version}`,
    'plantdb.commons': 'romidb',
    'plantdb.server': 'romidb',
    ...ENDPOINTS,
  }));

  app.get(
    '/health',
    {
      ...ctx.limited('api'),
      schema: {
        summary: 'Whether the database can be read, and how many scans it has',
        tags: ['base'],
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              message: { type: 'string' },
              database: { type: 'object', properties: { location: { type: 'string' }, scan_count: { type: 'integer' } } },
            },
          },
          500: { type: 'object', properties: { status: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    async (_req, reply) => {
      try {
        const scans = await db.listScans();
        return { status: 'healthy', message: 'API is running correctly', database: { location: db.url, scan_count: scans.length } };
      } catch (err) {
        return reply.code(500).send({ status: 'error', message: `API encountered an issue: ${(err as Error).message}` });
      }
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
    const doc = app.swagger() as { info: { title: string; version: string }; paths: Record<string, Record<string, { summary?: string; tags?: string[] }>> };
    const rows = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `<tr><td>${escapeHtml(r.method)}</td><td><code>${escapeHtml(r.path)}</code></td><td>${escapeHtml(r.op.summary ?? '')}</td></tr>`)
      .join('\n');
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}td{padding:.3rem .8rem;vertical-align:top;border-bottom:1px solid #ddd}code{white-space:nowrap}</style></head>
<body><h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>The machine-readable description is <a href="openapi.json">openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What it answers</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      message: 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
      code: 'ROMI_NOT_FOUND',
    }),
  );
}
