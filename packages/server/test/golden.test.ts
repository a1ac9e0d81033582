// Our server against the answers of the real plantdb 0.15 server (test-fixtures/server-golden,
// recorded by record.py on a copy of test-fixtures/server-db): every recorded request is sent
// again, in the recorded order, and our answer is compared with plantdb's field by field —
// status, Content-Type, the headers plantdb sent, the body (JSON deep-equal, stored files byte
// for byte, derived images by format and size, derived point clouds by PLY header, archives by
// member list), and the webcache files written. Where we differ on purpose, the difference is a
// row of DIFFERENCES, which asserts our side; nothing else may differ.
// packages/server/GOLDEN-DIFFERENCES.md is that table as markdown (checked below).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, DB } from '@romi/db-core';
import { decodeImage, imageSize } from '@romi/io';
import { webcacheName } from '../src/index.js';
import { GOLDEN, get, localTargets, serve, type Answer, type Running } from './harness.js';

// ---------------------------------------------------------------------------------------------
// The recorded answers

interface Golden {
  name: string;
  phase: string;
  method: string;
  url: string;
  request_headers?: Record<string, string>;
  status: number;
  headers: Record<string, string | boolean>;
  body_length?: number;
  body_sha256?: string;
  body_omitted?: string;
  json?: unknown;
  text?: string;
  image?: { width: number; height: number; mode: string; format: string } | null;
  image_bytes?: { length: number; sha256: string };
  ply?: { header: string[] };
  zip?: { members: Array<{ name: string; size: number }> };
}

interface WebcacheRecord {
  files: Array<{ scan: string; name: string; key: string | null }>;
}

const readGolden = <T>(name: string): T => JSON.parse(readFileSync(`${GOLDEN}${name}.json`, 'utf8')) as T;
const INDEX = readGolden<Array<{ name: string; phase: string }>>('index');
const WEBCACHE = readGolden<WebcacheRecord>('webcache');
const golden = (name: string): Golden => readGolden<Golden>(name);

/** The webcache comparison, as if it were one more recorded answer (a sorted list of `<scan>/<file>`). */
const WEBCACHE_RECORD: Golden = {
  name: 'webcache.json',
  phase: 'main',
  method: '-',
  url: '/<scan>/webcache/',
  status: 200,
  headers: {},
  json: WEBCACHE.files.map((f) => `${f.scan}/${f.name}`).sort(),
};

/** Recorded requests left out of the comparison, each with its reason (none now: every one is compared). */
const LEFT_OUT: ReadonlyMap<string, string> = new Map();

/** Every recorded request but the rate-limit phase (our limits differ on purpose and are tested elsewhere). */
const RECORDS: Golden[] = INDEX.filter((e) => e.phase !== 'ratelimit').map((e) => golden(e.name));
const COMPARED = RECORDS.filter((r) => !LEFT_OUT.has(r.name));

// ---------------------------------------------------------------------------------------------
// Answers reduced to what is compared

type Body =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; value: string }
  | { kind: 'bytes'; length: number; sha256: string }
  | { kind: 'image'; format: string; width: number; height: number; channels: number }
  | { kind: 'ply'; header: string[] }
  | { kind: 'zip'; members: Array<[string, number]> };

interface Shape {
  status: number;
  type: string | undefined;
  /** Headers plantdb sent: values, except `etag` and `last-modified` (true: present) and `content-disposition` (the file name). */
  headers: Record<string, string | boolean>;
  body: Body;
}

const JSON_UTF8 = 'application/json; charset=utf-8';
const FLASK_404 = 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';
const COMPARED_HEADERS = [
  'content-disposition',
  'cache-control',
  'accept-ranges',
  'content-range',
  'x-content-encoding',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'allow',
] as const;
const PRESENCE_HEADERS = ['etag', 'last-modified'] as const;
const CHANNELS: Readonly<Record<string, number>> = { L: 1, LA: 2, RGB: 3, RGBA: 4 };
const DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const pathOf = (rec: Golden): string => rec.url.split('?')[0]!;
const param = (rec: Golden, name: string): string | null => new URLSearchParams(rec.url.split('?')[1] ?? '').get(name);
/** `inline; filename=x` and `inline; filename="x"` name the same file. */
const filenameOf = (value: string): string => /filename="?([^";]*)"?/.exec(value)?.[1] ?? value;
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInfo = (v: unknown): v is Record<string, any> => isObject(v) && typeof v.id === 'string' && 'tasks_fileset' in v;
const jsonOf = (shape: Shape): any => (shape.body.kind === 'json' ? shape.body.value : undefined);

/** A resized image or a downsampled cloud: made by the server, so compared by what it is, not by its bytes. */
function isDerived(rec: Golden): boolean {
  return /^\/(image|pointcloud|pcGroundTruth)\//.test(pathOf(rec)) && param(rec, 'size') !== 'orig';
}

/** A stored file, or a webcache entry, sent as a file (with a Content-Disposition). */
const isFileAnswer = (rec: Golden): boolean => (rec.status === 200 || rec.status === 206) && rec.headers['content-disposition'] !== undefined;

function imageOfGolden(rec: Golden): Record<string, unknown> {
  if (!isDerived(rec)) return { length: rec.image_bytes!.length, sha256: rec.image_bytes!.sha256 };
  const im = rec.image!;
  return { format: im.format.toLowerCase(), width: im.width, height: im.height, channels: CHANNELS[im.mode] };
}

async function imageOfBytes(bytes: Uint8Array, derived: boolean): Promise<Record<string, unknown>> {
  if (!derived) return { length: bytes.length, sha256: sha256(bytes) };
  try {
    const { format, width, height } = await imageSize(bytes);
    return { format, width, height, channels: (await decodeImage(bytes)).channels };
  } catch (err) {
    return { notAnImage: String(err) };
  }
}

/** What plantdb answered, reduced to the compared fields. */
function expectedOf(rec: Golden): Shape {
  const headers: Shape['headers'] = {};
  for (const h of COMPARED_HEADERS) {
    const v = rec.headers[h];
    if (typeof v === 'string') headers[h] = h === 'content-disposition' ? filenameOf(v) : v;
  }
  for (const h of PRESENCE_HEADERS) if (rec.headers[h] !== undefined) headers[h] = true;
  let body: Body;
  if (isFileAnswer(rec) && pathOf(rec).startsWith('/archive/')) {
    body = { kind: 'zip', members: rec.zip!.members.map((m): [string, number] => [m.name, m.size]).sort(byName) };
  } else if (isFileAnswer(rec) && isDerived(rec) && rec.image) {
    body = { kind: 'image', ...(imageOfGolden(rec) as { format: string; width: number; height: number; channels: number }) };
  } else if (isFileAnswer(rec) && isDerived(rec) && rec.ply) {
    body = { kind: 'ply', header: rec.ply.header };
  } else if (isFileAnswer(rec)) {
    body = { kind: 'bytes', length: rec.body_length!, sha256: rec.body_sha256! };
  } else if (rec.json !== undefined) {
    // A copy: the differences edit it, and the records are shared by the targets.
    const value = structuredClone(rec.json);
    if (isObject(value) && isObject(value.image) && value.image._summary) value.image = imageOfGolden(rec);
    body = { kind: 'json', value };
  } else {
    body = { kind: 'text', value: rec.text ?? '' };
  }
  if (body.kind === 'bytes' && typeof rec.headers['content-length'] === 'string') headers['content-length'] = rec.headers['content-length'];
  return { status: rec.status, type: rec.headers['content-type'] as string | undefined, headers, body };
}

const byName = (a: [string, number], b: [string, number]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Names and sizes of a ZIP archive's members, from its central directory. */
function zipMembers(b: Buffer): Array<[string, number]> {
  const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) return [['<not a zip>', b.length]];
  const members: Array<[string, number]> = [];
  let at = b.readUInt32LE(eocd + 16);
  for (let i = b.readUInt16LE(eocd + 10); i > 0; i--) {
    const nameLength = b.readUInt16LE(at + 28);
    members.push([b.toString('utf8', at + 46, at + 46 + nameLength), b.readUInt32LE(at + 24)]);
    at += 46 + nameLength + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
  }
  return members.sort(byName);
}

function plyHeader(b: Buffer): string[] {
  const end = b.indexOf('end_header\n');
  return end < 0 ? ['<not a PLY>'] : b.toString('latin1', 0, end + 'end_header'.length).split('\n');
}

/** Our answer reduced to the fields `expected` has (after the differences are applied to it). */
async function actualOf(ours: Answer, rec: Golden, expected: Shape): Promise<Shape> {
  const headers: Shape['headers'] = {};
  for (const h of Object.keys(expected.headers)) {
    const v = ours.headers[h];
    if ((PRESENCE_HEADERS as readonly string[]).includes(h)) headers[h] = v !== undefined;
    else if (v !== undefined) headers[h] = h === 'content-disposition' ? filenameOf(v) : v;
  }
  const type = ours.headers['content-type'];
  const kind = expected.body.kind;
  let body: Body;
  if (ours.status < 300 && kind === 'zip') body = { kind, members: zipMembers(ours.body) };
  else if (ours.status < 300 && kind === 'ply') body = { kind, header: plyHeader(ours.body) };
  else if (ours.status < 300 && kind === 'image') body = { kind, ...((await imageOfBytes(ours.body, true)) as any) };
  else if (ours.status < 300 && kind === 'bytes') body = { kind, length: ours.body.length, sha256: sha256(ours.body) };
  else if ((kind === 'json' || type?.startsWith('application/json')) && ours.body.length > 0) {
    let value: unknown;
    try {
      value = ours.json();
    } catch {
      return { status: ours.status, type, headers, body: { kind: 'text', value: ours.text() } };
    }
    if (isObject(value) && typeof value.image === 'string') value.image = await imageOfBytes(Buffer.from(value.image, 'base64'), isDerived(rec));
    body = { kind: 'json', value };
  } else body = { kind: 'text', value: ours.text() };
  return { status: ours.status, type, headers, body };
}

/** Scans dated by their folder's time (no acquisition_date): the time the database copy was made, on either side. */
const FOLDER_DATED = new Set(
  ['real_plant', 'virtual_plant', 'real_plant_analyzed', 'no_images'].filter((id) => typeof (golden(`GET_scan_${id}_metadata`).json as any).metadata.acquisition_date !== 'string'),
);

/** Orders plantdb leaves to the filesystem are sorted; folder-time dates are compared by their format. */
function normalise(shape: Shape, rec: Golden): void {
  const value = jsonOf(shape);
  if (!Array.isArray(value) && !isInfo(value)) return;
  const infos = Array.isArray(value) ? value.filter(isInfo) : [value];
  for (const info of infos) {
    if (FOLDER_DATED.has(info.id) && DATE.test(info.metadata?.date)) info.metadata.date = '<YYYY-MM-DD HH:MM:SS: the scan folder time>';
  }
  if (Array.isArray(value) && ['/scans', '/scans_info', WEBCACHE_RECORD.url].includes(pathOf(rec))) {
    value.sort((a: any, b: any) => String(a?.id ?? a).localeCompare(String(b?.id ?? b)));
  }
}

// ---------------------------------------------------------------------------------------------
// The differences

interface Ctx {
  rec: Golden;
  ours: Answer;
  /** plantdb's answer reduced to the compared fields; a difference asserts our side, then makes this what we answer. */
  expected: Shape;
  db: DB;
  /** A request to our server. */
  get(path: string): Promise<Answer>;
}

export interface Difference {
  route: string;
  plantdb: string;
  romidb: string;
  why: string;
  /** Whether it concerns this recorded request (given what is expected of it so far). */
  applies(rec: Golden, expected: Shape): boolean;
  apply(ctx: Ctx): void | Promise<void>;
}

/** The expected answer becomes our answer (our side asserted by the caller). */
function adopt(c: Ctx): void {
  c.expected.status = c.ours.status;
  c.expected.type = c.ours.headers['content-type'];
  c.expected.body = c.ours.body.length > 0 ? { kind: 'json', value: c.ours.json() } : { kind: 'text', value: '' };
}

/**
 * Our answer is an error of this status and code: the expected status becomes it, or (`answer`)
 * the whole answer becomes ours, with the CORS header as the only header (no file headers).
 */
function answersStatus(status: number, code: string, what: 'status' | 'answer' = 'status'): (c: Ctx) => void {
  return (c) => {
    expect(c.ours.status).toBe(status);
    expect(c.ours.json().code).toBe(code);
    if (what === 'status') {
      c.expected.status = status;
      return;
    }
    adopt(c);
    c.expected.headers = { 'access-control-allow-origin': '*' };
  };
}

/** The expected answer becomes plantdb's answer to another recorded request. */
function answerOf(c: Ctx, name: string): void {
  Object.assign(c.expected, expectedOf(golden(name)));
}

/** plantdb error messages that name no server internals (paths, Python exceptions): ours are the same words. */
const PORTABLE_MESSAGE = /^(Invalid name: .*|No '\w+' fileset mapped!|Invalid JSON format in filterQuery parameter\.)$/;

/** Pairs of (expected, our) scanInfos in an answer, by scan id. */
function infoPairs(c: Ctx): Array<[Record<string, any>, Record<string, any>]> {
  const e = jsonOf(c.expected);
  const o: unknown = c.ours.json();
  if (isInfo(e) && isInfo(o)) return [[e, o]];
  if (!Array.isArray(e) || !Array.isArray(o)) return [];
  const ours = new Map(o.filter(isInfo).map((i) => [i.id, i]));
  return e.filter(isInfo).flatMap((i) => (ours.has(i.id) ? [[i, ours.get(i.id)!] as [Record<string, any>, Record<string, any>]] : []));
}

const hasInfos = (_rec: Golden, e: Shape): boolean => {
  const v = jsonOf(e);
  return isInfo(v) || (Array.isArray(v) && v.some(isInfo));
};
const isPath = (re: RegExp) => (rec: Golden): boolean => re.test(pathOf(rec));
const fileName = (e: Shape): string => String(e.headers['content-disposition'] ?? '');
const vertexCount = (name: string): number => Number(/^element vertex (\d+)$/m.exec(golden(name).ply!.header.join('\n'))![1]);
const ALL_SCANS = ['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant'];
const SCAN_ROUTES = /^\/scans?\/[^/]+$/;

/** A difference of Content-Type only. */
function contentType(route: string, [plantdb, romidb]: [string, string], why: string, applies: Difference['applies']): Difference {
  return {
    route,
    plantdb: `\`Content-Type: ${plantdb}\``,
    romidb: `\`Content-Type: ${romidb}\``,
    why,
    applies,
    apply(c) {
      expect(c.ours.headers['content-type']).toBe(romidb);
      c.expected.type = romidb;
    },
  };
}
const storedAs = (extension: string) => (_rec: Golden, e: Shape) => e.type === 'application/octet-stream' && fileName(e).endsWith(extension);

/**
 * Where our server answers differently from plantdb 0.15, on purpose. Applied in this order to
 * plantdb's answer, each asserting our side first; the result must equal our answer exactly.
 */
export const DIFFERENCES: readonly Difference[] = [
  {
    route: 'GET `/scans/<scan_id>`',
    plantdb: '404 HTML page (the route was renamed `/scan/<scan_id>` in 0.15)',
    romidb: 'An alias of `/scan/<scan_id>`: its scanInfo',
    why: 'Both plant-3d-explorer branches call `/scans/<id>` (reference doc §3)',
    applies: isPath(/^\/scans\/[^/]+$/),
    async apply(c) {
      expect(c.ours.status).toBe(200);
      const scan = pathOf(c.rec).split('/')[2]!;
      const direct = await c.get(`/scan/${scan}`);
      const withoutDate = (info: any) => ({ ...info, metadata: { ...info.metadata, date: undefined } });
      expect(withoutDate(c.ours.json())).toEqual(withoutDate(direct.json()));
      answerOf(c, `GET_scan_${scan}`);
    },
  },
  {
    route: 'Any URL without a route',
    plantdb: "Flask's 404 HTML page",
    romidb: '404 JSON `{"message": <the same sentence>, "code": "ROMI_NOT_FOUND"}`',
    why: 'Every answer of the API is JSON, errors included',
    applies: (_rec, e) => e.status === 404 && !!e.type?.startsWith('text/html'),
    apply(c) {
      expect((c.expected.body as { value: string }).value).toContain(FLASK_404);
      expect(c.ours.status).toBe(404);
      expect(c.ours.json()).toEqual({ message: FLASK_404, code: 'ROMI_NOT_FOUND' });
      adopt(c);
    },
  },
  {
    route: 'GET `/`',
    plantdb: 'Describes plantdb: `description`, `plantdb.commons`/`plantdb.server` versions, and its login, write and fileset-creation routes',
    romidb: 'The same `name` ("PlantDB REST API", which clients check) and groups, describing this read-only server: `server` (romidb and its version), no authentication routes',
    why: 'The routes listed are the ones this server has',
    applies: (rec) => rec.url === '/',
    apply(c) {
      const plantdb = jsonOf(c.expected) as Record<string, unknown>;
      const ours = c.ours.json() as Record<string, unknown>;
      expect(ours.name).toBe(plantdb.name);
      const groups = Object.keys(plantdb).filter((k) => k.endsWith(' endpoints') && k !== 'authentication endpoints');
      expect(Object.keys(ours)).toEqual(expect.arrayContaining(groups));
      expect(ours).not.toHaveProperty(['authentication endpoints']);
      expect(ours.server).toMatch(/^romidb \d/);
      adopt(c);
    },
  },
  {
    route: 'GET `/health`',
    plantdb: '`database.location`: the folder path',
    romidb: '`database.location`: the database URL (`file:///…`, `memory://…`, `s3://…`)',
    why: 'A romidb database is not always a folder',
    applies: (rec) => rec.url === '/health',
    apply(c) {
      expect(c.ours.json().database.location).toBe(c.db.url);
      (jsonOf(c.expected) as any).database.location = c.db.url;
    },
  },
  {
    route: 'OPTIONS (CORS preflight)',
    plantdb: '200, echoes `Origin`, allows `DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT`, `Allow` header',
    romidb: '204, `Access-Control-Allow-Origin: *`, allows `GET,HEAD,POST`, echoes the requested headers',
    why: '@fastify/cors with origin `*`: a read-only API that needs no credentials',
    applies: (rec) => rec.method === 'OPTIONS',
    apply(c) {
      expect(c.ours.status).toBe(204);
      expect(c.ours.headers['access-control-allow-origin']).toBe('*');
      expect(c.ours.headers['access-control-allow-methods']).toBe('GET,HEAD,POST');
      expect(c.ours.headers['access-control-allow-headers']).toBe(c.expected.headers['access-control-allow-headers']);
      Object.assign(c.expected.headers, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET,HEAD,POST' });
      delete c.expected.headers.allow;
      c.expected.status = 204;
      c.expected.type = undefined;
    },
  },
  {
    route: 'GET `/scans_info` (no filter)',
    plantdb: '404 for the whole list when any scan fails (`no_images` has no `images` fileset)',
    romidb: '200: every scan; one that cannot be read has `"error": true` and an `errorMessage`',
    why: 'One bad scan must not hide the others (reference doc §2.1, §7)',
    applies: (rec, e) => rec.url === '/scans_info' && e.status === 404,
    apply(c) {
      expect(c.ours.status).toBe(200);
      const list = c.ours.json() as Array<Record<string, any>>;
      expect(list.map((i) => i.id).sort()).toEqual(ALL_SCANS);
      const broken = list.find((i) => i.id === 'broken_index')!;
      expect(broken).toMatchObject({ error: true, errorMessage: expect.stringContaining('broken_index/files.json') });
      const plantdbInfos = ['real_plant', 'virtual_plant', 'real_plant_analyzed'].map((id) => golden(`GET_scan_${id}`).json);
      adopt(c);
      c.expected.body = { kind: 'json', value: [...plantdbInfos, ...list.filter((i) => ['broken_index', 'no_images'].includes(i.id))] };
    },
  },
  {
    route: 'GET `/scan/<scan_id>` of a scan without an `images` fileset',
    plantdb: "404 `Unknown fileset id 'images'`",
    romidb: '200: a scanInfo with no images (`nbPhotos` 0, `thumbnailUri` "", `camera.poses` [])',
    why: 'A scan is still a scan before its images are uploaded (any new scan)',
    applies: (rec, e) => SCAN_ROUTES.test(pathOf(rec)) && pathOf(rec).endsWith('/no_images') && e.status === 404,
    apply(c) {
      const object = (golden('GET_scan_no_images_metadata').json as any).metadata.object;
      expect(c.ours.status).toBe(200);
      expect(c.ours.json()).toMatchObject({
        id: 'no_images',
        metadata: { species: object.species, plant: object.plant_id, environment: object.environment, nbPhotos: 0, files: { archive: '/archive/no_images' } },
        thumbnailUri: '',
        images: [],
        tasks_fileset: { notes: 'notes' },
        error: false,
        camera: { poses: [] },
      });
      adopt(c);
    },
  },
  {
    route: 'GET `/scans`, `/scans_info`: `filterQuery` that is not JSON',
    plantdb: '`/scans`: 400 `Invalid JSON format`; `/scans_info`: 500',
    romidb: 'A case-insensitive search of the text in the scan ids and metadata',
    why: "The viewer's search box sends its raw text (reference doc §3, §7; plantdb 0.10's behaviour)",
    applies: (rec) => ['/scans', '/scans_info'].includes(pathOf(rec)) && /^[A-Za-z]+$/.test(param(rec, 'filterQuery') ?? ''),
    apply(c) {
      expect(c.ours.status).toBe(200);
      // The same scans as the JSON query of that text, in plantdb's own answers.
      answerOf(c, pathOf(c.rec) === '/scans' ? 'GET_scans_filterQuery=_object_environment_Lyon_indoor' : 'GET_scans_info_filterQuery=_object_environment_Lyon._fuzzy=true');
    },
  },
  {
    route: 'GET `/scans?filterQuery=<json>&fuzzy=false`',
    plantdb: 'Any non-empty `fuzzy` means true: the values are regular expressions',
    romidb: '`false`, `0`, `no` mean false: the same answer as without `fuzzy`',
    why: 'A flag set to false must not turn regular expressions on',
    applies: (rec) => param(rec, 'fuzzy') === 'false' && param(rec, 'filterQuery') !== null,
    apply(c) {
      const without = golden('GET_scans_filterQuery=_object_environment_Lyon.');
      expect(c.ours.json()).toEqual(without.json);
      c.expected.body = { kind: 'json', value: without.json };
    },
  },
  {
    route: 'GET `/refresh?scan_id=<unknown id>`',
    plantdb: '200, and the id is added to the scan list as a `None` scan: `/scans` lists it, `/scans_info` fails with 500 until a full refresh',
    romidb: '404; the list is unchanged',
    why: 'An unauthenticated request must not poison the scan list (reference doc §4.4, §7)',
    applies: (rec, e) =>
      rec.phase === 'refresh' &&
      (rec.url === '/refresh?scan_id=unknown' || (rec.url === '/scans' && Array.isArray(jsonOf(e)) && jsonOf(e).includes('unknown')) || (pathOf(rec) === '/scans_info' && e.status === 500)),
    apply(c) {
      if (pathOf(c.rec) === '/refresh') {
        expect(c.ours.status).toBe(404);
        adopt(c);
      } else if (pathOf(c.rec) === '/scans') {
        expect(c.ours.json()).not.toContain('unknown');
        c.expected.body = { kind: 'json', value: (jsonOf(c.expected) as string[]).filter((id) => id !== 'unknown') };
      } else {
        expect(c.ours.status).toBe(200);
        answerOf(c, c.rec.name.replace(/^refresh__/, ''));
      }
    },
  },
  {
    route: 'GET `/refresh`, `/refresh?scan_id=broken_index` with a scan whose `files.json` is corrupt',
    plantdb: "500 `Error during … reload: Expecting property name …` (a database holding such a scan cannot even be started)",
    romidb: '200 `Successfully reloaded …`: the broken scan stays listed, with `"error": true` in `/scans_info`',
    why: 'One bad scan must not make the database unusable',
    applies: (rec) => rec.phase === 'broken' && pathOf(rec) === '/refresh',
    apply(c) {
      expect(c.ours.status).toBe(200);
      if (param(c.rec, 'scan_id') === null) {
        answerOf(c, 'refresh__GET_refresh');
      } else {
        const message = (golden('refresh__GET_refresh_scan_id=real_plant').json as any).message.replace('real_plant', 'broken_index');
        expect(c.ours.json().message).toBe(message);
        adopt(c);
      }
    },
  },
  {
    route: 'GET `/scans`, `/health`, `/refresh`',
    plantdb: 'Never lists a scan whose `files.json` is corrupt (`broken_index`)',
    romidb: 'Lists it (and counts it)',
    why: 'It is a scan folder: it is shown, as an error, rather than hidden',
    applies: (rec, e) => e.status === 200 && ((rec.url === '/scans' && Array.isArray(jsonOf(e))) || rec.url === '/health' || rec.url === '/refresh'),
    apply(c) {
      const e = jsonOf(c.expected) as any;
      if (pathOf(c.rec) === '/scans') {
        expect(c.ours.json()).toContain('broken_index');
        e.push('broken_index');
      } else if (pathOf(c.rec) === '/health') {
        e.database.scan_count += 1;
      } else {
        e.message = e.message.replace(/(\d+) scans/, (_: string, n: string) => `${Number(n) + 1} scans`);
      }
    },
  },
  {
    route: 'GET `/scan/broken_index`, its `/metadata` and `/filesets` (corrupt `files.json`)',
    plantdb: '404 `Unknown scan id` (it could not load the scan)',
    romidb: '500 `ROMI_CORRUPT`, naming `broken_index/files.json`',
    why: 'The scan exists but cannot be read: a server-side data error, said as such',
    applies: (rec) => rec.phase === 'broken' && pathOf(rec).startsWith('/scan/broken_index'),
    apply(c) {
      expect(c.ours.status).toBe(500);
      expect(c.ours.json()).toMatchObject({ code: 'ROMI_CORRUPT', message: expect.stringContaining('broken_index/files.json') });
      c.expected.status = 500;
    },
  },
  {
    route: 'GET `/scan/<id>/filesets?query=`, `/fileset/<s>/<fs>/files?query=`',
    plantdb: '500 for any value (`query` is never parsed as JSON)',
    romidb: 'A JSON metadata query (`{}` matches all); anything else is 400 `Invalid JSON format in query parameter.`',
    why: 'plantdb bug (reference doc §2 #9, #13, §7)',
    applies: (rec) => param(rec, 'query') !== null,
    apply(c) {
      const query = param(c.rec, 'query')!;
      if (query.startsWith('{')) {
        expect(c.ours.status).toBe(200);
        answerOf(c, 'GET_scan_real_plant_filesets');
      } else {
        expect(c.ours.status).toBe(400);
        expect(c.ours.json().message).toBe('Invalid JSON format in query parameter.');
        adopt(c);
      }
    },
  },
  {
    route: 'GET `/fileset/<scan_id>/<fileset_id>`',
    plantdb: '405 with `Allow: OPTIONS, POST` (the route creates filesets)',
    romidb: '404, as any URL without a route',
    why: 'This server is read-only: it has no POST routes',
    applies: (rec) => rec.status === 405,
    apply(c) {
      answersStatus(404, 'ROMI_NOT_FOUND')(c);
      delete c.expected.headers.allow;
    },
  },
  {
    route: 'GET `/files/users.json`',
    plantdb: "200: the database's users with their password hashes",
    romidb: '404: only files inside a scan are served (never `users.json`, `groups.json`, dot-folders)',
    why: 'Security (reference doc §4, problem 1)',
    applies: (rec) => rec.url === '/files/users.json',
    apply(c) {
      expect(c.ours.text()).not.toMatch(/password/i);
      answersStatus(404, 'ROMI_NOT_FOUND', 'answer')(c);
    },
  },
  {
    route: 'GET `/image/…?size=0`, `-5`, `bogus`',
    plantdb: '500 (`division by zero`, `scale must be > 0`, `Unknown image size specification`)',
    romidb: '400 `ROMI_INVALID_ARGUMENT`: sizes are `thumb`, `large`, `orig` or a whole number from 1 to the image size',
    why: 'A client error, said as such; bounded sizes (every other size made plantdb write a cache file)',
    applies: (rec) => pathOf(rec).startsWith('/image/') && rec.status === 500 && !['thumb', 'large', 'orig', null].includes(param(rec, 'size')),
    apply: answersStatus(400, 'ROMI_INVALID_ARGUMENT'),
  },
  {
    route: 'GET `/image/unknown/…`, `/pointcloud/unknown/…` (unknown scan)',
    plantdb: "500 `[Errno 2] No such file or directory: '<db>/unknown/webcache'`",
    romidb: '404 `ROMI_NOT_FOUND`',
    why: 'plantdb bug: it makes the cache folder before looking the scan up; the answer also named a server path',
    applies: (rec) => rec.status === 500 && /^\/(image|pointcloud|pcGroundTruth)\/unknown\//.test(pathOf(rec)),
    apply: answersStatus(404, 'ROMI_NOT_FOUND'),
  },
  {
    route: 'GET `/pointcloud/…?size=bogus`, `/pcGroundTruth/…?size=bogus`',
    plantdb: 'An unknown size falls back to `preview` (200)',
    romidb: '400 `ROMI_INVALID_ARGUMENT`: sizes are `preview`, `orig` or a voxel size',
    why: 'A typo must not silently answer something else',
    applies: (rec) => /^\/(pointcloud|pcGroundTruth)\//.test(pathOf(rec)) && param(rec, 'size') === 'bogus',
    apply: answersStatus(400, 'ROMI_INVALID_ARGUMENT', 'answer'),
  },
  {
    route: 'GET `/pointcloud/…?coords=true`, `/pcGroundTruth/…?coords=true`, `/mesh/…?coords=true`',
    plantdb: '500 (open3d 0.16 is handed a `PosixPath`)',
    romidb: '200 `{"coordinates": [[x, y, z], …]}` of the preview cloud; `{"vertices": …, "triangles": …}` of the mesh',
    why: 'plantdb bug (reference doc §2.1)',
    applies: (rec) => param(rec, 'coords') === 'true' && rec.status === 500,
    apply(c) {
      expect(c.ours.status).toBe(200);
      const plain = c.rec.name.replace('_coords=true', '');
      const answer = c.ours.json();
      if (pathOf(c.rec).startsWith('/mesh/')) {
        const faces = Number(/^element face (\d+)$/m.exec(golden(plain).ply!.header.join('\n'))![1]);
        expect([answer.vertices.length, answer.triangles.length]).toEqual([vertexCount(plain), faces]);
      } else {
        expect(answer.coordinates).toHaveLength(vertexCount(plain));
        expect(answer.coordinates[0]).toHaveLength(3);
      }
      adopt(c);
    },
  },
  {
    route: 'GET `/sequence/<scan_id>?type=bogus`',
    plantdb: 'An unknown type answers everything (as `all`)',
    romidb: '400 `ROMI_INVALID_ARGUMENT`',
    why: 'A typo must not silently answer something else',
    applies: (rec) => pathOf(rec).startsWith('/sequence/') && param(rec, 'type') === 'bogus',
    apply: answersStatus(400, 'ROMI_INVALID_ARGUMENT', 'answer'),
  },
  {
    route: 'GET `/skeleton/<unknown id>`',
    plantdb: "400 `{\"error\": \"Scan 'unknown' not found!\"}`",
    romidb: '404 `ROMI_NOT_FOUND`',
    why: 'An unknown scan is a 404 on every route',
    applies: (rec) => pathOf(rec) === '/skeleton/unknown' && rec.status === 400,
    apply: answersStatus(404, 'ROMI_NOT_FOUND'),
  },
  {
    route: 'GET `/pointcloud/…?size=<voxel size>` (other than `preview`), and the webcache',
    plantdb: 'Writes a webcache file for every size asked (`<sha1>.ply`, sent with ETag and Last-Modified)',
    romidb: 'Only `preview` is cached; another voxel size is computed and sent (`<file_id>.ply`, no ETag, no Last-Modified)',
    why: 'Bounded storage: a crawler asking for every size cannot fill the disk (reference doc §4.4)',
    applies: (rec) =>
      rec.name === WEBCACHE_RECORD.name || (/^\/(pointcloud|pcGroundTruth)\//.test(pathOf(rec)) && rec.status === 200 && /^\d+(\.\d+)?$/.test(param(rec, 'size') ?? '')),
    apply(c) {
      if (c.rec.name === WEBCACHE_RECORD.name) {
        const uncached = WEBCACHE.files.filter((f) => f.key?.startsWith('pointcloud|') && !f.key.endsWith('|preview')).map((f) => `${f.scan}/${f.name}`);
        expect(uncached.length).toBeGreaterThan(0);
        for (const name of uncached) expect(c.ours.json()).not.toContain(name);
        c.expected.body = { kind: 'json', value: (jsonOf(c.expected) as string[]).filter((n) => !uncached.includes(n)) };
        return;
      }
      const name = `${pathOf(c.rec).split('/').pop()}.ply`;
      expect(filenameOf(c.ours.headers['content-disposition']!)).toBe(name);
      expect([c.ours.headers.etag, c.ours.headers['last-modified']]).toEqual([undefined, undefined]);
      c.expected.headers['content-disposition'] = name;
      delete c.expected.headers.etag;
      delete c.expected.headers['last-modified'];
    },
  },
  {
    route: 'GET `/archive/<scan_id>`',
    plantdb: 'Writes the ZIP to a temporary file, then sends it with Content-Length, ETag, Last-Modified, `Cache-Control: no-cache`',
    romidb: 'Streams the ZIP as it is read (chunked: no Content-Length, ETag, Last-Modified or Cache-Control); same members',
    why: 'No temporary copy of a whole scan; the first bytes leave at once',
    applies: (rec) => pathOf(rec).startsWith('/archive/') && rec.status === 200,
    apply(c) {
      expect(c.ours.headers['transfer-encoding']).toBe('chunked');
      for (const h of ['etag', 'last-modified', 'cache-control'] as const) {
        expect(c.ours.headers[h], h).toBeUndefined();
        delete c.expected.headers[h];
      }
    },
  },
  {
    route: 'Downsampled point clouds (`/pointcloud`, `/pcGroundTruth`)',
    plantdb: 'PLY header comment `Created by Open3D`',
    romidb: 'PLY header comment `Created by romidb @romi/io`',
    why: 'Written by romidb (same format, properties and vertex counts)',
    applies: (_rec, e) => e.body.kind === 'ply',
    apply(c) {
      expect(plyHeader(c.ours.body)).toContain('comment Created by romidb @romi/io');
      const body = c.expected.body as { header: string[] };
      body.header = body.header.map((l) => (l === 'comment Created by Open3D' ? 'comment Created by romidb @romi/io' : l));
    },
  },
  {
    route: '304 Not Modified answers',
    plantdb: 'Carry `Content-Disposition`',
    romidb: 'Carry the validators and caching headers only',
    why: 'RFC 9110 §15.4.5: a 304 has no content to describe',
    applies: (rec) => rec.status === 304,
    apply(c) {
      expect(c.ours.status).toBe(304);
      expect(c.ours.headers['content-disposition']).toBeUndefined();
      delete c.expected.headers['content-disposition'];
    },
  },
  {
    route: 'GET `/scan/<scan_id>/metadata`',
    plantdb: 'Sets `object` (`{}`), `hardware` (`{}`) and `acquisition_date` (`null`) whenever the scan has an `images` fileset, even if stored nowhere',
    romidb: 'The stored metadata, with the `object`, `hardware`, `acquisition_date` that `metadata/images.json` does hold',
    why: 'No values that are stored nowhere (plantdb: a FIXME in fsdb/metadata.py)',
    applies: (rec) => /^\/scan\/[^/]+\/metadata$/.test(pathOf(rec)) && rec.status === 200 && param(rec, 'key') === null,
    apply(c) {
      const e = (jsonOf(c.expected) as any).metadata;
      const o = c.ours.json().metadata;
      for (const [key, filler] of [['object', {}], ['hardware', {}], ['acquisition_date', null]] as const) {
        if (key in o || !(key in e)) continue;
        expect(e[key]).toEqual(filler);
        delete e[key];
      }
    },
  },
  {
    route: 'scanInfo (`/scan/<id>`, `/scans_info`): `metadata.files.metadata`',
    plantdb: '`/files/<id>/metadata/metadata.json` even when the scan has no such file (a 404)',
    romidb: '`/scan/<id>/metadata` when the file does not exist',
    why: 'The URIs of a scanInfo resolve',
    applies: hasInfos,
    async apply(c) {
      for (const [e, o] of infoPairs(c)) {
        const [plantdbUri, ourUri] = [e.metadata.files.metadata, o.metadata.files.metadata];
        if (plantdbUri === ourUri) continue;
        expect([plantdbUri, ourUri]).toEqual([`/files/${e.id}/metadata/metadata.json`, `/scan/${e.id}/metadata`]);
        expect((await c.get(plantdbUri)).status).toBe(404);
        expect((await c.get(ourUri)).status).toBe(200);
        e.metadata.files.metadata = ourUri;
      }
    },
  },
  {
    route: 'scanInfo: `camera` of a scan without Colmap poses',
    plantdb: '`{}`',
    romidb: '`{"poses": []}`',
    why: 'The viewer calls `scan.camera.poses.map` (reference doc §3)',
    applies: hasInfos,
    apply(c) {
      for (const [e, o] of infoPairs(c)) {
        if (!isDeepStrictEqual(e.camera, {})) continue;
        expect(o.camera).toEqual({ poses: [] });
        e.camera = { poses: [] };
      }
    },
  },
  {
    route: 'scanInfo: `camera.poses[]`',
    plantdb: 'No `isMatched`',
    romidb: '`isMatched`: whether Colmap posed the image (`tvec` and `rotmat` are there)',
    why: 'Without it the viewer marks every image as unmatched (reference doc §3)',
    applies: hasInfos,
    apply(c) {
      for (const [e, o] of infoPairs(c)) {
        (e.camera.poses ?? []).forEach((pose: Record<string, unknown>, i: number) => {
          if ('isMatched' in pose) return;
          expect(o.camera.poses[i].isMatched).toBe(Array.isArray(pose.tvec) && Array.isArray(pose.rotmat));
          pose.isMatched = o.camera.poses[i].isMatched;
        });
      }
    },
  },
  {
    route: 'scanInfo: `camera.poses[].photoUri`, `thumbnailUri`',
    plantdb: '`/image/<id>/images/<file name with extension>?size=…`: 404',
    romidb: '`/image/<id>/images/<file id>?size=orig` / `?size=thumb`: they resolve',
    why: 'plantdb bug (reference doc §2.1)',
    applies: hasInfos,
    async apply(c) {
      for (const [e, o] of infoPairs(c)) {
        const poses: Array<Record<string, string>> = e.camera.poses ?? [];
        for (const [i, pose] of poses.entries()) {
          const ours = o.camera.poses[i];
          if (pose.photoUri === ours.photoUri) continue;
          expect(pose.photoUri).toBe(ours.photoUri.replace('?', '.jpg?'));
          expect(pose.thumbnailUri).toBe(ours.thumbnailUri.replace('?', '.jpg?'));
          expect(ours.thumbnailUri).toBe(ours.photoUri.replace('size=orig', 'size=thumb'));
          expect((await c.get(ours.photoUri)).status).toBe(200);
          Object.assign(pose, { photoUri: ours.photoUri, thumbnailUri: ours.thumbnailUri });
        }
      }
    },
  },
  {
    route: 'Error answers (status ≥ 400)',
    plantdb: '`{"message": …}` (some routes `{"error": …}`), often naming server paths or Python exceptions',
    romidb: '`{"message": …, "code": "ROMI_…"}`; the message is plantdb\'s when it names no server internals (`Invalid name: …`, `No \'<task>\' fileset mapped!`), else romidb\'s',
    why: 'One error shape, with a stable code, that leaks no server details',
    applies: (_rec, e) => e.status >= 400,
    apply(c) {
      const answer = c.ours.json() as Record<string, unknown>;
      expect(Object.keys(answer).sort()).toEqual(['code', 'message']);
      expect(answer.code).toMatch(/^ROMI_[A-Z_]+$/);
      const plantdb = jsonOf(c.expected) as Record<string, unknown> | undefined;
      const said = String(plantdb?.message ?? plantdb?.error ?? '');
      if (PORTABLE_MESSAGE.test(said)) expect(answer.message).toBe(said);
      else expect(answer.message).not.toMatch(/\/tmp\/|Errno|NoneType|object has no attribute|Traceback/);
      c.expected.body = { kind: 'json', value: answer };
    },
  },
  contentType(
    'Stored and derived `.ply` files (`/files`, `/file`, `/pointcloud`, `/pcGroundTruth`, `/mesh`)',
    ['application/octet-stream', 'application/ply'],
    'The registered type of PLY',
    storedAs('.ply'),
  ),
  contentType('Stored `.toml` files (`/files/<scan>/scan.toml`)', ['application/octet-stream', 'application/toml'], 'The registered type of TOML', storedAs('.toml')),
  contentType(
    'JSON answers made by the server (not stored `.json` files)',
    ['application/json', JSON_UTF8],
    "Fastify's default; the same bytes (JSON is UTF-8)",
    (_rec, e) => e.type === 'application/json' && e.headers['content-disposition'] === undefined,
  ),
];

/** How the answers are made comparable; not differences. */
const NORMALISATIONS = [
  'JSON bodies are compared as values: spacing, key order and `37.0` / `37` do not count (so neither does the Content-Length of JSON).',
  'Lists whose order plantdb leaves to the filesystem are sorted: `/scans`, `/scans_info` (by id), archive members, webcache files. romidb sorts them itself.',
  '`metadata.date` of a scanInfo dated by its folder (no `acquisition_date`) is compared by its format `YYYY-MM-DD HH:MM:SS`: on both sides it is the time the database copy was made.',
  'Stored files (answers with a Content-Disposition) are compared byte for byte (length and SHA-256, and Content-Length); resized images by format, width, height and channels (Pillow and libvips encode JPEG differently); downsampled clouds by their PLY header (format, properties, vertex count); archives by member names and sizes.',
  '`Content-Disposition: inline; filename=x` and `inline; filename="x"` are the same; ETag and Last-Modified are compared by presence (their values are each server\'s version tags and the copy\'s times).',
  'Only the headers plantdb sent are compared (ours may add Accept-Ranges, Vary, Date…). The conditional request sends our own ETag, as the recorder sent plantdb\'s.',
  'The `ratelimit` phase is not replayed (rate limits are off in these tests; ours are tested elsewhere). `broken_index` is in our copy of the fixture from the start, while plantdb got it only in the `broken` phase (it cannot start on a database holding it).',
];

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** DIFFERENCES as markdown (packages/server/GOLDEN-DIFFERENCES.md). */
export function differencesMarkdown(): string {
  const rows = DIFFERENCES.map((d, i) => `| ${i + 1} | ${cell(d.route)} | ${cell(d.plantdb)} | ${cell(d.romidb)} | ${cell(d.why)} |`);
  return [
    '# @romi/server and plantdb 0.15: where the answers differ',
    '',
    '<!-- Generated from DIFFERENCES in test/golden.test.ts: `pnpm vitest run packages/server/test/golden.test.ts -u` rewrites it. -->',
    '',
    '`test/golden.test.ts` sends every request recorded from the real plantdb 0.15 server',
    '(`test-fixtures/server-golden/`, see its README) to this server, in the recorded order, on a',
    'copy of the same database, and compares the answers field by field: status, Content-Type, the',
    'headers plantdb sent, the body, and the webcache files written. Each difference below is',
    'asserted on our side; any other difference fails the test.',
    '',
    '| # | Route | plantdb 0.15 | romidb | Why |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## Compared after normalising (not differences)',
    '',
    ...NORMALISATIONS.map((n) => `- ${n}`),
    '',
    '## Left out of the comparison (bugs, reported)',
    '',
    ...(LEFT_OUT.size > 0 ? [...LEFT_OUT.values()].map((v) => `- ${v}`) : ['None.']),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The tests

async function webcacheFiles(backend: Backend): Promise<string[]> {
  const names: string[] = [];
  for await (const e of backend.list('')) if (e.kind === 'object' && /^[^/]+\/webcache\/[^/]+$/.test(e.key)) names.push(e.key.replace('/webcache/', '/'));
  return names.sort();
}

/** Sends `rec` as recorded; an If-None-Match naming one of plantdb's ETags names ours for the same answer. */
async function replay(base: string, rec: Golden, etags: Map<string, string>): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec.request_headers ?? {})) headers[k] = etags.get(v) ?? v;
  const ours = await get(`${base}${rec.url}`, { method: rec.method as 'GET' | 'HEAD' | 'OPTIONS', headers });
  const tag = rec.headers.etag;
  if (typeof tag === 'string' && ours.headers.etag) etags.set(tag, ours.headers.etag);
  return ours;
}

it('GOLDEN-DIFFERENCES.md is the DIFFERENCES table', async () => {
  await expect(differencesMarkdown()).toMatchFileSnapshot('../GOLDEN-DIFFERENCES.md');
});

it('our webcache names are plantdb\'s (sha1 of type|scan|fileset|file|size)', () => {
  expect(WEBCACHE.files.length).toBeGreaterThan(0);
  for (const f of WEBCACHE.files) {
    const [type, scan, fileset, file, size] = f.key!.split('|') as ['image' | 'pointcloud', string, string, string, string];
    expect(webcacheName(type, scan, fileset, file, size), f.key!).toBe(f.name);
  }
});

describe.each(localTargets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let server: Running;
  const answers = new Map<string, Answer>();
  /** Per row of DIFFERENCES: how many answers it changed the expectation of. */
  const used = new Array<number>(DIFFERENCES.length).fill(0);

  beforeAll(async () => {
    made = await target.make();
    server = await serve(made.db);
    const etags = new Map<string, string>();
    for (const rec of RECORDS) answers.set(rec.name, await replay(server.url, rec, etags));
    const files = await webcacheFiles(made.backend);
    const body = Buffer.from(JSON.stringify(files));
    answers.set(WEBCACHE_RECORD.name, { status: 200, headers: {}, body, json: () => JSON.parse(body.toString()), text: () => body.toString() });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  for (const rec of [...COMPARED, WEBCACHE_RECORD]) it(`${rec.phase} ${rec.method} ${rec.url}`, async () => {
    const ours = answers.get(rec.name)!;
    const expected = expectedOf(rec);
    const ctx: Ctx = { rec, ours, expected, db: made.db, get: (path) => get(`${server.url}${path}`) };
    for (const [i, d] of DIFFERENCES.entries()) {
      if (!d.applies(rec, expected)) continue;
      const before = JSON.stringify(expected);
      await d.apply(ctx);
      if (JSON.stringify(expected) !== before) used[i]!++;
    }
    const actual = await actualOf(ours, rec, expected);
    normalise(expected, rec);
    normalise(actual, rec);
    expect(actual.status, 'status').toBe(expected.status);
    expect(actual.type, 'content-type').toBe(expected.type);
    expect(actual.headers, 'headers').toEqual(expected.headers);
    expect(actual.body, 'body').toEqual(expected.body);
  });

  it('every row of DIFFERENCES is a difference that still exists', () => {
    const unused = DIFFERENCES.filter((_, i) => used[i] === 0).map((d) => d.route);
    expect(unused).toEqual([]);
  });
});
