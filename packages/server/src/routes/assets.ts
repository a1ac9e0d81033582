/** /image, /pointcloud, /pcGroundTruth, /mesh, /skeleton, /sequence, /archive. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { keys, type File, type Scan } from '@romi/db-core';
import { decodePointCloud, decodeTriangleMesh } from '@romi/io';
import { scanArchive } from '../archive.js';
import { errorSchema, fileParams, routeFile, scanParams, type RouteContext } from '../context.js';
import { assertRouteId, badRequest, notFound, parseFlag } from '../http-errors.js';
import { abortOnClose, contentDisposition, contentTypeOf, sendObject } from '../send.js';
import { taskFilesets } from '../scan-info.js';
import { parseCloudSize, parseImageSize, type Derived } from '../webcache.js';

const binary = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } });

/** Rows of an interleaved N×3 array, as Open3D's numpy arrays print them. */
function rows(data: ArrayLike<number>): number[][] {
  const out: number[][] = [];
  for (let i = 0; i + 2 < data.length; i += 3) out.push([data[i]!, data[i + 1]!, data[i + 2]!]);
  return out;
}

/** The extensions of the images that can be resized. */
const IMAGE_FILE = /\.(jpe?g|png|tiff?|webp|gif)$/i;

function assertPly(file: File): string {
  if (!file.filename) throw notFound(`File '${file.id}' of fileset '${file.fileset.id}' has no data`);
  if (!/\.ply$/i.test(file.filename)) throw badRequest(`'${file.filename}' is not a PLY file`);
  return file.filename;
}

/** The file of a scan's task (plantdb: the fileset whose id starts with the task name, and the file named as the task). */
async function taskFile(scan: Scan, task: string): Promise<File> {
  const fsId = taskFilesets(await scan.listFilesets())[task];
  if (fsId === undefined) throw notFound(`No '${task}' fileset mapped!`);
  const fileset = await scan.getFileset(fsId);
  if (!(await fileset.hasFile(task))) throw notFound(`No '${task}' file found!`);
  return fileset.getFile(task);
}

const SEQUENCE_TYPES = ['angles', 'internodes', 'fruit_points', 'manual_angles', 'manual_internodes'] as const;

export function registerAssetRoutes(ctx: RouteContext): void {
  const { app, db, backend, webcache } = ctx;

  /** A derived version: as its stored object, or (made for this request only) as `fallbackName`. */
  const sendDerived = async (req: FastifyRequest, reply: FastifyReply, derived: Derived, type: string, fallbackName: string) => {
    if (derived.key !== undefined) {
      const name = derived.key.slice(derived.key.lastIndexOf('/') + 1);
      return sendObject(req, reply, backend, derived.key, { contentType: type, filename: name, meta: derived.meta, bytes: derived.bytes });
    }
    return reply.type(type).header('Content-Disposition', contentDisposition(fallbackName)).header('Cache-Control', 'no-cache').send(Buffer.from(derived.bytes));
  };
  const derivedBytes = async (derived: Derived): Promise<Uint8Array> => (derived.key === undefined ? derived.bytes : (derived.bytes ?? (await backend.get(derived.key)).bytes));

  app.get<{ Params: { scanId: string; filesetId: string; fileId: string }; Querystring: { size?: string; as_base64?: string } }>(
    '/image/:scanId/:filesetId/:fileId',
    {
      ...ctx.limited('files'),
      schema: {
        summary: 'An image, resized as plantdb does (JPEG, RGB, never upscaled) and cached, or the original',
        tags: ['assets'],
        params: fileParams,
        querystring: {
          type: 'object',
          properties: {
            size: { type: 'string', description: 'thumb (150, default), large (1500), orig, or a max side in pixels from 1 to the image size' },
            as_base64: { type: 'string', description: 'true: answer {"image": base64, "content-type": …} as JSON' },
          },
        },
        response: { 200: binary('image/jpeg', 'The image'), 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const size = parseImageSize(req.query.size);
      const base64 = parseFlag(req.query.as_base64, 'as_base64');
      const { scanId, filesetId, fileId } = req.params;
      const file = await routeFile(db, scanId, filesetId, fileId);
      if (!file.filename) throw notFound(`File '${fileId}' of fileset '${filesetId}' has no data`);
      const signal = abortOnClose(req, reply);
      let derived: Derived;
      let type = 'image/jpeg';
      if (size.kind === 'orig') {
        derived = { key: keys.fileData(scanId, filesetId, file.filename) };
        type = contentTypeOf(file.filename);
      } else {
        if (!IMAGE_FILE.test(file.filename)) throw badRequest(`'${file.filename}' is not an image: only size=orig sends it`);
        derived = await webcache.image(file, size, signal);
      }
      if (base64) {
        const bytes = await derivedBytes(derived);
        reply.header('X-Content-Encoding', 'base64');
        return { image: Buffer.from(bytes).toString('base64'), 'content-type': type };
      }
      reply.header('X-Content-Encoding', 'binary');
      return sendDerived(req, reply, derived, type, `${fileId}.jpeg`);
    },
  );

  for (const path of ['/pointcloud', '/pcGroundTruth']) {
    app.get<{ Params: { scanId: string; filesetId: string; fileId: string }; Querystring: { size?: string; coords?: string } }>(
      `${path}/:scanId/:filesetId/:fileId`,
      {
        ...ctx.limited('compute'),
        schema: {
          summary: path === '/pointcloud' ? 'A point cloud, downsampled as Open3D voxel_down_sample (preview: voxel 1.8, cached), or the original' : 'A ground-truth point cloud (as /pointcloud)',
          tags: ['assets'],
          params: fileParams,
          querystring: {
            type: 'object',
            properties: {
              size: { type: 'string', description: 'preview (default), orig, or a voxel size' },
              coords: { type: 'string', description: 'true: answer {"coordinates": [[x, y, z], …]} as JSON' },
            },
          },
          response: { 200: binary('application/ply', 'Binary PLY'), 400: errorSchema, 404: errorSchema },
        },
      },
      async (req, reply) => {
        const size = parseCloudSize(req.query.size);
        const coords = parseFlag(req.query.coords, 'coords');
        const { scanId, filesetId, fileId } = req.params;
        const file = await routeFile(db, scanId, filesetId, fileId);
        const filename = assertPly(file);
        const signal = abortOnClose(req, reply);
        const derived: Derived = size.kind === 'orig' ? { key: keys.fileData(scanId, filesetId, filename) } : await webcache.pointcloud(file, size, signal);
        if (coords) return { coordinates: rows(decodePointCloud(await derivedBytes(derived), filename).points) };
        return sendDerived(req, reply, derived, 'application/ply', `${fileId}.ply`);
      },
    );
  }

  app.get<{ Params: { scanId: string; filesetId: string; fileId: string }; Querystring: { size?: string; coords?: string } }>(
    '/mesh/:scanId/:filesetId/:fileId',
    {
      ...ctx.limited('compute'),
      schema: {
        summary: 'A triangle mesh (always the original, as plantdb)',
        tags: ['assets'],
        params: fileParams,
        querystring: { type: 'object', properties: { size: { type: 'string', description: 'ignored: a mesh is always sent whole (as plantdb)' }, coords: { type: 'string', description: 'true: answer {"vertices": …, "triangles": …} as JSON' } } },
        response: { 200: binary('application/ply', 'PLY'), 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const coords = parseFlag(req.query.coords, 'coords');
      const { scanId, filesetId, fileId } = req.params;
      const file = await routeFile(db, scanId, filesetId, fileId);
      const filename = assertPly(file);
      const key = keys.fileData(scanId, filesetId, filename);
      if (coords) {
        const mesh = decodeTriangleMesh((await backend.get(key)).bytes, filename);
        return { vertices: rows(mesh.vertices), triangles: rows(mesh.triangles) };
      }
      return sendObject(req, reply, backend, key, { contentType: 'application/ply' });
    },
  );

  app.get<{ Params: { scanId: string } }>(
    '/skeleton/:scanId',
    {
      ...ctx.limited('compute'),
      schema: { summary: 'The CurveSkeleton task output of a scan (its JSON as stored)', tags: ['assets'], params: scanParams, response: { 404: errorSchema } },
    },
    async (req, reply) => {
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      const file = await taskFile(scan, 'CurveSkeleton');
      return reply.type('application/json; charset=utf-8').serializer((x: unknown) => x as string).send(await file.readText());
    },
  );

  app.get<{ Params: { scanId: string }; Querystring: { type?: string } }>(
    '/sequence/:scanId',
    {
      ...ctx.limited('compute'),
      schema: {
        summary: 'Angles and internodes of a scan (AnglesAndInternodes output, with the manual measures of measures.json)',
        tags: ['assets'],
        params: scanParams,
        querystring: { type: 'object', properties: { type: { type: 'string', enum: ['all', ...SEQUENCE_TYPES] } } },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const type = req.query.type ?? 'all';
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      const file = await taskFile(scan, 'AnglesAndInternodes');
      const measures = JSON.parse(await file.readText()) as Record<string, unknown>;
      const manual = await scan.getMeasures();
      if (Object.keys(manual).length > 0) {
        measures.manual_angles = manual.angles;
        measures.manual_internodes = manual.internodes;
      }
      if (type === 'all') return measures;
      if (!Object.prototype.hasOwnProperty.call(measures, type)) throw notFound(`No '${type}' in the measures of scan '${scan.id}'`);
      return measures[type];
    },
  );

  app.get<{ Params: { scanId: string } }>(
    '/archive/:scanId',
    {
      ...ctx.limited('archive'),
      schema: { summary: 'A scan as a ZIP archive, streamed (without webcache/)', tags: ['assets'], params: scanParams, response: { 200: binary('application/zip', 'ZIP'), 404: errorSchema } },
    },
    async (req, reply) => {
      const scan = await db.getScan(assertRouteId(req.params.scanId));
      reply.type('application/zip').header('Content-Disposition', contentDisposition(`${scan.id}.zip`));
      if (req.method === 'HEAD') return reply.send();
      const stream = await scanArchive(backend, scan.id, abortOnClose(req, reply));
      return reply.send(stream);
    },
  );
}
