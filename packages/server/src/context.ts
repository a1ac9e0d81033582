/** What every route module gets: the database, its backend, the catalog, the webcache, the limits. */
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { Backend, DB, File } from '@romi/db-core';
import type { ScanCatalog } from './catalog.js';
import type { ChangeJournal } from './changes.js';
import { assertRouteId } from './http-errors.js';
import type { Webcache } from './webcache.js';

/** Requests per minute and client address, per route group (plantdb's are lower: its own viewer hit them). */
export const DEFAULT_RATE_LIMITS = {
  /** JSON answers: lists, infos, metadata. */
  api: 1200,
  /** Stored files and images, which a viewer loads by the hundred. */
  files: 6000,
  /** Work computed per request: point clouds, meshes, skeletons, sequences. */
  compute: 120,
  /** Whole scans as ZIP archives. */
  archive: 30,
  /** /refresh (plantdb: 60 per scan, 12 for the whole database). */
  refresh: 60,
  /** Logins, token refreshes and account creation (plantdb: 20 logins). */
  auth: 60,
  /** Creating scans and filesets, updating metadata (plantdb: 15 to 120 per route). */
  write: 120,
} as const;

export type RateLimitGroup = keyof typeof DEFAULT_RATE_LIMITS;

export interface RouteContext {
  app: FastifyInstance;
  db: DB;
  backend: Backend;
  catalog: ScanCatalog;
  /** Writes made through this server and the others on the database (changes.ts). */
  changes: ChangeJournal;
  webcache: Webcache;
  /** Route options carrying the group's rate limit (none when limits are off). */
  limited(group: RateLimitGroup): Pick<RouteShorthandOptions, 'config'>;
}

/** The file of a route's three ids, each checked by plantdb's rule first. */
export async function routeFile(db: DB, scanId: string, filesetId: string, fileId: string): Promise<File> {
  const scan = await db.getScan(assertRouteId(scanId));
  const fileset = await scan.getFileset(assertRouteId(filesetId));
  return fileset.getFile(assertRouteId(fileId));
}

/** JSON Schemas shared by the routes (they also make the OpenAPI document). */
const idSchema = { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', maxLength: 255 } as const;
export const scanParams = { type: 'object', required: ['scanId'], properties: { scanId: idSchema } } as const;
export const filesetParams = { type: 'object', required: ['scanId', 'filesetId'], properties: { scanId: idSchema, filesetId: idSchema } } as const;
export const fileParams = {
  type: 'object',
  required: ['scanId', 'filesetId', 'fileId'],
  properties: { scanId: idSchema, filesetId: idSchema, fileId: idSchema },
} as const;
export const errorSchema = {
  type: 'object',
  properties: { message: { type: 'string' }, code: { type: 'string' } },
} as const;
/** Any JSON value (metadata is whatever the scan holds). */
export const anyJson = {} as const;

// The OpenAPI fields of route schemas (@fastify/swagger reads them; its own declaration of them
// does not reach this package under pnpm's layout).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    tags?: readonly string[];
    hide?: boolean;
  }
}
