/**
 * W8 server: @romi/server (Fastify, over an FSDB folder) against a raw node:http server or sharp
 * alone, measured in the same run. Both servers run in child processes (bench/server-proc.ts),
 * the load (autocannon, or one request at a time for latencies) comes from this process.
 *
 *   W8a /files of a 1.4 MB JPEG and a 20 MB PLY vs createReadStream(path).pipe(res): throughput
 *   W8b a cached thumbnail (/image?size=thumb, webcache warm) vs the raw server on the cached file
 *   W8c /scans_info of 2,000 scans: warm p50 / p99 vs the same bytes from memory; the cold first call
 *       vs reading what scanInfo is made of (files.json and metadata JSON) with node:fs
 *   W8d the first thumbnail of a 1440×1080 JPEG (webcache entry deleted before each request) vs sharp alone
 *   W8e peak RSS of each server process under 64 downloads at once of a 200 MB file
 *   W8f writes: POST /scan/<id>/metadata (p50, p99) vs the same write through the DB API in this
 *       process (writer connect, setMetadata, disconnect); POST /files/<scan> of 20 MB vs the raw
 *       server streaming the body to a file
 *
 * Timings are reported, never asserted. Each row's ratio is time / baseline time (for throughput,
 * raw throughput / romidb throughput).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { Agent, get as httpGet, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { mapLimit } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { encodePointCloud, thumbnailSize } from '@romi/io';
import { webcacheName } from '@romi/server';

export interface ServerBenchRow {
  workload: string;
  ms: number;
  baselineMs: number;
  target?: string;
  met?: boolean;
  note?: string;
  /** The figures behind the row (req/s, MB/s, latencies, RSS), for results/*.json. */
  metrics?: Record<string, number>;
}

const REAL_IMAGES = fileURLToPath(new URL('../test-fixtures/server-db/real_plant/images/', import.meta.url));
const PROC = fileURLToPath(new URL('server-proc.ts', import.meta.url));
const TS_REGISTER = pathToFileURL(fileURLToPath(new URL('../tools/ts-register.mjs', import.meta.url))).href;
const SCAN = 'bench';
const MB = 1e6;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

// ---- servers in child processes ----

interface Usage {
  rss: number;
  /** Peak RSS of the process's life (getrusage). */
  maxRss: number;
  /** Largest RSS sampled (every 10 ms) since the previous usage(). */
  sampledPeak: number;
  cpuUs: number;
}

interface Child {
  url: string;
  usage(): Promise<Usage>;
  close(): Promise<void>;
}

type ProcConfig =
  | { kind: 'romidb'; root: string; auth?: { secret: string; username: string; password: string } }
  | { kind: 'raw'; files: Record<string, { path: string; type: string; memory?: boolean }>; uploadDir?: string };

export async function startChild(config: ProcConfig): Promise<Child> {
  const child: ChildProcess = fork(PROC, [JSON.stringify(config)], {
    execArgv: ['--conditions=source', '--import', TS_REGISTER],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`bench server (${config.kind}) exited with ${code} before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    usage: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as Usage));
        child.send('usage');
      }),
    close: async () => {
      if (child.connected) child.send('close');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

// ---- clients ----

interface Load {
  /** Wall time. */
  ms: number;
  /** Complete answers. */
  requests: number;
  /** Bytes received. */
  bytes: number;
  /** CPU time of the server process during the load. */
  serverCpuMs: number;
  /** The server's largest RSS sampled during the load. */
  sampledPeak: number;
}

/**
 * `amount` GETs of `url` over `connections` connections with autocannon; every answer must be a 200. autocannon keeps each answer's body as a string (about
 * 40 MB/s here: it would measure itself, not the server): that accumulation is turned off.
 */
async function load(child: Child, url: string, connections: number, until: { amount: number }): Promise<Load> {
  const before = await child.usage();
  const r = await autocannon({
    url,
    connections,
    amount: until.amount,
    // autocannon looks whether it is done every sampleInt ms (1 s by default).
    sampleInt: 20,
    timeout: 300,
    setupClient: (client) => {
      (client as unknown as { pipelinedRequests: { addBody(data: unknown): void } }).pipelinedRequests.addBody = () => {};
    },
  });
  const after = await child.usage();
  if (r.errors || r.timeouts || r.non2xx || r['2xx'] !== until.amount) {
    throw new Error(`${url}: ${r['2xx']} answers were 200 (${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx)`);
  }
  return { ms: r.duration * 1000, requests: r.requests.total, bytes: r.throughput.total, serverCpuMs: (after.cpuUs - before.cpuUs) / 1000, sampledPeak: after.sampledPeak };
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One GET, its body read whole; the time from sending to the last byte. */
function timedGet(url: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    httpGet(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
        else resolve({ ms: performance.now() - t0, bytes });
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** One POST of `body`, its answer read whole; the time from sending to the last byte of the answer, which must have `status`. */
function timedPost(url: string, body: Buffer, headers: Record<string, string>, status: number): Promise<{ ms: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpRequest(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== status) reject(new Error(`POST ${url}: ${res.statusCode} ${text.slice(0, 300)}`));
        else resolve({ ms: performance.now() - t0, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const rate = (l: Load) => ({ rps: l.requests / (l.ms / 1000), mbps: l.bytes / MB / (l.ms / 1000) });

/** The same load on both servers, alternately, after a smaller untimed one on each; the runs of median time. */
async function pairLoads(romidb: [Child, string], raw: [Child, string], connections: number, amount: number, runs: number): Promise<[Load, Load]> {
  const warm = { amount: Math.max(connections, Math.ceil(amount / 4)) };
  await load(...raw, connections, warm);
  await load(...romidb, connections, warm);
  const a: Load[] = [];
  const b: Load[] = [];
  for (let i = 0; i < runs; i++) {
    b.push(await load(...raw, connections, { amount }));
    a.push(await load(...romidb, connections, { amount }));
  }
  const pick = (ls: Load[]) => ls.find((l) => l.ms === median(ls.map((x) => x.ms)))!;
  return [pick(a), pick(b)];
}

/**
 * A throughput row: ms is wall time per answer (so the ratio is raw throughput / romidb
 * throughput); the note adds the servers' CPU time per answer, which the client does not bound.
 */
function throughputRow(workload: string, romidb: Load, raw: Load, connections: number): ServerBenchRow {
  const a = rate(romidb);
  const b = rate(raw);
  const cpuA = (romidb.serverCpuMs / romidb.bytes) * MB;
  const cpuB = (raw.serverCpuMs / raw.bytes) * MB;
  const ratio = a.mbps / b.mbps;
  return {
    workload,
    ms: romidb.ms / romidb.requests,
    baselineMs: raw.ms / raw.requests,
    target: 'throughput ≥ 0.8× raw',
    met: ratio >= 0.8,
    note: `${connections} connections: ${a.rps.toFixed(0)} req/s ${a.mbps.toFixed(0)} MB/s vs raw ${b.rps.toFixed(0)} req/s ${b.mbps.toFixed(0)} MB/s = ${ratio.toFixed(2)}× raw; server CPU ${cpuA.toFixed(2)} vs ${cpuB.toFixed(2)} ms/MB`,
    metrics: {
      rps: round(a.rps),
      mbps: round(a.mbps),
      rawRps: round(b.rps),
      rawMbps: round(b.mbps),
      throughputRatio: round(ratio, 3),
      serverCpuMsPerMB: round(cpuA, 3),
      rawServerCpuMsPerMB: round(cpuB, 3),
    },
  };
}

// ---- data ----

/** A JPEG signature and random bytes: /files streams bytes, it never decodes them. */
function fakeJpeg(size: number): Uint8Array {
  const bytes = randomBytes(size);
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0);
  return bytes;
}

/** A binary PLY of about `size` bytes (points and colours, as Open3D writes them). */
function ply(size: number): Uint8Array {
  const n = Math.floor(size / 27);
  const points = new Float64Array(n * 3);
  for (let i = 0; i < points.length; i++) points[i] = Math.sin(i) * 100;
  const colors = new Uint8Array(n * 3).map((_, i) => i & 255);
  return encodePointCloud({ points, colors }, { format: 'binary_little_endian' });
}

interface FilesDb {
  root: string;
  files: { photo: string; cloud: string; big: string };
  images: string[];
}

/** Scan `bench`: fileset `data` (photo.jpg, cloud.ply, big.bin) and `images` (the real 1440×1080 JPEGs). */
async function filesDb(dir: string, bigBytes: number): Promise<FilesDb> {
  const root = `${dir}/files-db`;
  await mkdir(root);
  const db = await FSDB.init(root);
  await db.connect();
  const scan = await db.createScan(SCAN, { metadata: { object: { species: 'arabidopsis' } } });
  const data = await scan.createFileset('data');
  await data.createFiles([
    { id: 'photo', data: fakeJpeg(1_400_000), ext: 'jpg' },
    { id: 'cloud', data: ply(20 * MB), ext: 'ply' },
  ]);
  const big = await data.createFile('big');
  await big.writeBytes(randomBytes(bigBytes), 'bin');
  const images = (await readdir(REAL_IMAGES)).filter((f) => f.endsWith('.jpg')).sort();
  const fs = await scan.createFileset('images');
  await fs.createFiles(await Promise.all(images.map(async (f) => ({ id: f.replace(/\.jpg$/, ''), data: await readFile(`${REAL_IMAGES}${f}`), ext: 'jpg', metadata: { channel: 'rgb' } }))));
  await db.disconnect();
  return {
    root,
    files: { photo: `${root}/${SCAN}/data/photo.jpg`, cloud: `${root}/${SCAN}/data/cloud.ply`, big: `${root}/${SCAN}/data/big.bin` },
    images: images.map((f) => f.replace(/\.jpg$/, '')),
  };
}

/**
 * `n` scans, each with scan metadata and an images fileset of 3 small files with metadata (what
 * scanInfo reads). The images are random bytes behind a JPEG signature unless `image` is given
 * (W9 passes a real JPEG, so that thumbnails can be made).
 */
export async function scansDb(dir: string, n: number, image: Uint8Array = fakeJpeg(2_000)): Promise<{ root: string; ids: string[]; ms: number }> {
  const root = `${dir}/scans-db`;
  await mkdir(root);
  const t0 = performance.now();
  const db = await FSDB.init(root);
  await db.connect();
  const ids = Array.from({ length: n }, (_, i) => `scan_${String(i).padStart(4, '0')}`);
  await mapLimit(ids, 8, async (id, i) => {
    const scan = await db.createScan(id, {
      metadata: { object: { species: i % 10 === 0 ? 'tomato' : 'arabidopsis', environment: 'lab', plant_id: `p${i}` }, acquisition_date: '2024-05-01 10:00:00' },
    });
    const fs = await scan.createFileset('images', { metadata: { workspace: { x: [0, 800], y: [0, 800], z: [0, 500] } } });
    await fs.createFiles(
      [0, 1, 2].map((j) => ({ id: `${String(j).padStart(5, '0')}_rgb`, data: image, ext: 'jpg', metadata: { channel: 'rgb', shot_id: String(j).padStart(6, '0'), pose: [j * 10, 50, 80, 270, 0] } })),
      { concurrency: 4 },
    );
  });
  await db.disconnect();
  return { root, ids, ms: performance.now() - t0 };
}

// ---- workloads ----

interface Opts {
  quick: boolean;
  /** Told of each row as soon as it is measured. */
  onRow?: (row: ServerBenchRow) => void;
}

/** W8a and W8b: throughput of stored files and of a cached thumbnail. */
async function throughput(db: FilesDb, opts: Opts, runs: number): Promise<ServerBenchRow[]> {
  const romidb = await startChild({ kind: 'romidb', root: db.root });
  const thumbUrl = `${romidb.url}/image/${SCAN}/images/${db.images[0]}?size=thumb`;
  await timedGet(thumbUrl); // makes the webcache entry
  const thumbPath = `${db.root}/${SCAN}/webcache/${webcacheName('image', SCAN, 'images', db.images[0]!, 'thumb')}`;
  const raw = await startChild({
    kind: 'raw',
    files: {
      '/photo.jpg': { path: db.files.photo, type: 'image/jpeg' },
      '/cloud.ply': { path: db.files.cloud, type: 'application/ply' },
      '/thumb.jpeg': { path: thumbPath, type: 'image/jpeg' },
    },
  });
  const rows: ServerBenchRow[] = [];
  try {
    const C = 8;
    const [jpg, jpgRaw] = await pairLoads([romidb, `${romidb.url}/files/${SCAN}/data/photo.jpg`], [raw, `${raw.url}/photo.jpg`], C, opts.quick ? 80 : 400, runs);
    rows.push(throughputRow('W8a /files JPEG 1.4 MB', jpg, jpgRaw, C));
    const [cloud, cloudRaw] = await pairLoads([romidb, `${romidb.url}/files/${SCAN}/data/cloud.ply`], [raw, `${raw.url}/cloud.ply`], C, opts.quick ? 16 : 32, runs);
    rows.push(throughputRow('W8a /files PLY 20 MB', cloud, cloudRaw, C));
    const thumbBytes = (await stat(thumbPath)).size;
    const [thumb, thumbRaw] = await pairLoads([romidb, thumbUrl], [raw, `${raw.url}/thumb.jpeg`], C, opts.quick ? 400 : 2_000, runs);
    rows.push(throughputRow(`W8b cached thumbnail (${(thumbBytes / 1000).toFixed(1)} kB)`, thumb, thumbRaw, C));
  } finally {
    await romidb.close();
    await raw.close();
  }
  return rows;
}

/** W8c: /scans_info, cold and warm, without and with gzip. */
async function scansInfo(dir: string, opts: Opts): Promise<ServerBenchRow[]> {
  const n = opts.quick ? 200 : 2_000;
  const made = await scansDb(dir, n);
  console.error(`  (W8c setup: ${n} scans × 3 files in ${(made.ms / 1000).toFixed(1)} s)`);
  // The cold baseline: every object scanInfo is made of, read with node:fs at the server's concurrency (16).
  const rawRead = async () => {
    const t0 = performance.now();
    await mapLimit(made.ids, 16, async (id) => {
      const s = `${made.root}/${id}`;
      await Promise.all([`${s}/files.json`, `${s}/metadata/metadata.json`, `${s}/metadata/images.json`].map((p) => readFile(p)));
      await Promise.all([0, 1, 2].map((j) => readFile(`${s}/metadata/images/${String(j).padStart(5, '0')}_rgb.json`)));
    });
    return performance.now() - t0;
  };
  await rawRead();
  const rawCold = await rawRead();
  const romidb = await startChild({ kind: 'romidb', root: made.root });
  const rows: ServerBenchRow[] = [];
  let raw: Child | undefined;
  try {
    const url = `${romidb.url}/scans_info`;
    const cold = await timedGet(url);
    const body = `${dir}/scans_info.json`;
    await new Promise<void>((resolve, reject) =>
      httpGet(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => writeFile(body, Buffer.concat(chunks)).then(resolve, reject));
      }).on('error', reject),
    );
    raw = await startChild({ kind: 'raw', files: { '/scans_info': { path: body, type: 'application/json; charset=utf-8', memory: true } } });
    rows.push({
      workload: `W8c /scans_info cold first call (${n} scans)`,
      ms: cold.ms,
      baselineMs: rawCold,
      note: `${(cold.bytes / 1000).toFixed(0)} kB of JSON; baseline: node:fs reads of each scan's files.json, scan, fileset and file metadata`,
      metrics: { bytes: cold.bytes },
    });
    const N = opts.quick ? 50 : 200;
    for (const gzip of [false, true]) {
      const headers: Record<string, string> = gzip ? { 'accept-encoding': 'gzip' } : {};
      const a: number[] = [];
      const b: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 5; i++) {
        await timedGet(url, headers);
        await timedGet(`${raw.url}/scans_info`);
      }
      for (let i = 0; i < N; i++) {
        b.push((await timedGet(`${raw.url}/scans_info`)).ms);
        const r = await timedGet(url, headers);
        a.push(r.ms);
        bytes = r.bytes;
      }
      const p50 = percentile(a, 50);
      const p99 = percentile(a, 99);
      const what = gzip ? ', Accept-Encoding: gzip' : '';
      const metrics = { p50: round(p50, 2), p99: round(p99, 2), rawP50: round(percentile(b, 50), 2), rawP99: round(percentile(b, 99), 2), bytes };
      const note = `${N} sequential GETs, ${(bytes / 1000).toFixed(0)} kB answers; p99 ${p99.toFixed(1)} ms (raw p99 ${percentile(b, 99).toFixed(1)} ms); baseline: the same bytes from memory${gzip ? ' (uncompressed)' : ''}`;
      rows.push({ workload: `W8c /scans_info warm p50${what}`, ms: p50, baselineMs: metrics.rawP50, target: '≤ 20 ms', met: p50 <= 20, note, metrics });
      rows.push({ workload: `W8c /scans_info warm p99${what}`, ms: p99, baselineMs: metrics.rawP99, target: '', met: undefined, metrics });
    }
  } finally {
    await romidb.close();
    await raw?.close();
  }
  return rows;
}

/** W8d: first thumbnails (webcache entry deleted and source touched before each request) vs the same resize by sharp alone. */
async function coldThumbnails(db: FilesDb, opts: Opts): Promise<ServerBenchRow[]> {
  const romidb = await startChild({ kind: 'romidb', root: db.root });
  const webcache = `${db.root}/${SCAN}/webcache`;
  const clearCache = async () => {
    for (const f of await readdir(webcache).catch(() => [] as string[])) await rm(`${webcache}/${f}`, { force: true });
  };
  const sources = await Promise.all(db.images.map((id) => readFile(`${db.root}/${SCAN}/images/${id}.jpg`)));
  const meta = await sharp(sources[0]).metadata();
  const size = thumbnailSize(meta.width!, meta.height!, 150);
  // What resizeImage asks libvips for (packages/io/src/thumbnail.ts), the source read from disk as the server reads it.
  const sharpAlone = async (i: number) => {
    const src = await readFile(`${db.root}/${SCAN}/images/${db.images[i]}.jpg`);
    await sharp(src, { failOn: 'error', limitInputPixels: false })
      .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
      .removeAlpha()
      .toColourspace('srgb')
      .jpeg({ quality: 84, chromaSubsampling: '4:2:0', optimizeCoding: true })
      .toBuffer();
  };
  const a: number[] = [];
  const b: number[] = [];
  try {
    const rounds = opts.quick ? 1 : 5;
    await clearCache();
    await timedGet(`${romidb.url}/image/${SCAN}/images/${db.images[0]}?size=thumb`);
    await sharpAlone(0);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < db.images.length; i++) {
        await clearCache();
        // A new source version too: the server keeps small entries it made in memory while their source is unchanged.
        const stamp = new Date(Date.now() + (r * db.images.length + i + 1) * 1000);
        await utimes(`${db.root}/${SCAN}/images/${db.images[i]}.jpg`, stamp, stamp);
        let t0 = performance.now();
        await sharpAlone(i);
        b.push(performance.now() - t0);
        a.push((await timedGet(`${romidb.url}/image/${SCAN}/images/${db.images[i]}?size=thumb`)).ms);
      }
    }
  } finally {
    await romidb.close();
  }
  const ms = median(a);
  const base = median(b);
  return [
    {
      workload: `W8d first thumbnail of a ${meta.width}×${meta.height} JPEG`,
      ms,
      baselineMs: base,
      target: '≤ 1.2× sharp',
      met: ms / base <= 1.2,
      note: `${a.length} cold requests over ${db.images.length} images, one at a time; baseline: readFile + the same sharp pipeline in this process`,
      metrics: { p50: round(ms, 2), sharpP50: round(base, 2) },
    },
  ];
}

/**
 * W8e: peak RSS of each server process (fresh) under `connections` downloads at once of the big
 * file: the largest RSS sampled every 10 ms during the downloads, and getrusage's peak of the
 * whole life (which would also count a start-up peak, such as the TypeScript compiler the
 * ts-register hooks load after a source changed).
 */
async function memory(db: FilesDb, bigBytes: number, opts: Opts): Promise<ServerBenchRow[]> {
  const connections = opts.quick ? 16 : 64;
  // Bounded by the connections, not by the file: each holds one 512 KiB read and the socket's buffers.
  const perConnectionMB = 4;
  const measure = async (config: ProcConfig, path: string) => {
    const child = await startChild(config);
    try {
      const idle = await child.usage();
      const l = await load(child, `${child.url}${path}`, connections, { amount: connections });
      const after = await child.usage();
      return { idle: idle.rss / MB, peak: Math.max(after.sampledPeak, l.sampledPeak) / MB, lifePeak: after.maxRss / MB, load: l };
    } finally {
      await child.close();
    }
  };
  const raw = await measure({ kind: 'raw', files: { '/big.bin': { path: db.files.big, type: 'application/octet-stream' } } }, '/big.bin');
  const romidb = await measure({ kind: 'romidb', root: db.root }, `/files/${SCAN}/data/big.bin`);
  const mb = (x: number) => x.toFixed(0);
  const limit = Math.round(romidb.idle + connections * perConnectionMB);
  return [
    {
      workload: `W8e peak RSS, ${connections} downloads at once of ${(bigBytes / MB).toFixed(0)} MB`,
      ms: romidb.load.ms,
      baselineMs: raw.load.ms,
      target: `peak RSS < idle + ${perConnectionMB} MB per connection (${limit} MB)`,
      met: romidb.peak < limit,
      note:
        `romidb server peak RSS ${mb(romidb.peak)} MB (idle ${mb(romidb.idle)}, whole life ${mb(romidb.lifePeak)}), ` +
        `raw node:http ${mb(raw.peak)} MB (idle ${mb(raw.idle)}, whole life ${mb(raw.lifePeak)}); ${rate(romidb.load).mbps.toFixed(0)} vs ${rate(raw.load).mbps.toFixed(0)} MB/s`,
      metrics: {
        peakRssMB: round(romidb.peak),
        idleRssMB: round(romidb.idle),
        lifePeakRssMB: round(romidb.lifePeak),
        rawPeakRssMB: round(raw.peak),
        rawIdleRssMB: round(raw.idle),
        rawLifePeakRssMB: round(raw.lifePeak),
        mbps: round(rate(romidb.load).mbps),
        rawMbps: round(rate(raw.load).mbps),
      },
    },
  ];
}

/**
 * W8f: writes through the server (with auth, an admin's Bearer token), on a fresh fsdb folder with
 * one scan. Metadata writes vs the same write through the DB API in this process, on a copy of
 * the folder, with the server's lock design (the writer lock taken for one write); 20 MB uploads
 * through POST /files vs the raw server streaming the same body into a file.
 */
async function writes(dir: string, opts: Opts): Promise<ServerBenchRow[]> {
  const root = `${dir}/writes-db`;
  const root2 = `${dir}/writes-db-baseline`;
  const rawDir = `${dir}/raw-uploads`;
  await mkdir(root);
  await mkdir(rawDir);
  const made = await FSDB.init(root);
  await made.connect();
  const scan = await made.createScan(SCAN, { metadata: { object: { species: 'arabidopsis' }, owner: 'bench' } });
  const fs = await scan.createFileset('images');
  await fs.createFiles([0, 1, 2].map((j) => ({ id: `${String(j).padStart(5, '0')}_rgb`, data: fakeJpeg(2_000), ext: 'jpg', metadata: { channel: 'rgb' } })));
  await made.disconnect();
  await cp(root, root2, { recursive: true });

  const user = { username: 'bench', password: 'bench-password' };
  const romidb = await startChild({ kind: 'romidb', root, auth: { secret: randomBytes(32).toString('base64'), ...user } });
  const raw = await startChild({ kind: 'raw', files: {}, uploadDir: rawDir });
  const rows: ServerBenchRow[] = [];
  try {
    const json = { 'content-type': 'application/json' };
    const login = await timedPost(`${romidb.url}/login`, Buffer.from(JSON.stringify(user)), json, 200);
    const bearer = { authorization: `Bearer ${(JSON.parse(login.text) as { access_token: string }).access_token}` };

    // ---- metadata writes ----
    const N = opts.quick ? 30 : 200;
    const WARM = 10;
    const metadataUrl = `${romidb.url}/scan/${SCAN}/metadata`;
    const post = (i: number) => timedPost(metadataUrl, Buffer.from(JSON.stringify({ metadata: { k: i } })), { ...json, ...bearer }, 200);
    // What one such write costs through the DB API: the writer lock taken for that write only.
    const direct = async (i: number) => {
      const t0 = performance.now();
      const db = new FSDB(root2);
      await db.connect();
      await (await db.getScan(SCAN)).setMetadata({ k: i });
      await db.disconnect();
      return performance.now() - t0;
    };
    // The server's permission check, on a fresh read-only view.
    const view = async () => {
      const t0 = performance.now();
      const db = new FSDB(root2);
      await db.connect({ readOnly: true });
      if (await db.hasScan(SCAN)) await (await db.getScan(SCAN)).getMetadata();
      await db.disconnect();
      return performance.now() - t0;
    };
    for (let i = 0; i < WARM; i++) {
      await post(-1 - i);
      await direct(-1 - i);
      await view();
      await timedGet(`${romidb.url}/scans`);
    }
    const a: number[] = [];
    const b: number[] = [];
    const v: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < N; i++) {
      b.push(await direct(i));
      v.push(await view());
      g.push((await timedGet(`${romidb.url}/scans`)).ms);
      a.push((await post(i)).ms);
    }
    const p50 = percentile(a, 50);
    const p99 = percentile(a, 99);
    const base = percentile(b, 50);
    const viewP50 = percentile(v, 50);
    const getP50 = percentile(g, 50);
    rows.push({
      workload: 'W8f metadata write p50',
      ms: p50,
      baselineMs: base,
      target: '',
      met: undefined,
      note:
        `${N} sequential POST /scan/<id>/metadata (after ${WARM} untimed), p99 ${p99.toFixed(1)} ms (baseline p99 ${percentile(b, 99).toFixed(1)} ms); ` +
        `baseline: new FSDB + connect (writer lock) + setMetadata + disconnect in this process. ` +
        `Besides it the server adds an HTTP round trip (GET /scans p50 ${getP50.toFixed(2)} ms), the read-only permission view (${viewP50.toFixed(2)} ms alone), ` +
        `the change journal write and the catalog refresh`,
      metrics: {
        p50: round(p50, 2),
        p99: round(p99, 2),
        directP50: round(base, 2),
        directP99: round(percentile(b, 99), 2),
        viewP50: round(viewP50, 2),
        getP50: round(getP50, 2),
      },
    });
    rows.push({ workload: 'W8f metadata write p99', ms: p99, baselineMs: percentile(b, 99), target: '', met: undefined, metrics: { p99: round(p99, 2) } });

    // ---- 20 MB uploads ----
    const M = opts.quick ? 3 : 10;
    const size = 20 * MB;
    const body = randomBytes(size);
    const upload = (i: number) => timedPost(`${romidb.url}/files/${SCAN}`, body, { 'content-type': 'application/octet-stream', 'x-file-path': `up/u${i}.bin`, ...bearer }, 201);
    const rawUpload = (i: number) => timedPost(`${raw.url}/upload/u${i}.bin`, body, { 'content-type': 'application/octet-stream' }, 201);
    // The storage work of one upload without HTTP, in this process: the body written to a spool
    // file, then copied into the database under the writer lock (as POST /files does).
    const spoolPath = `${dir}/spool.bin`;
    const storageOnly = async (i: number) => {
      const t0 = performance.now();
      await writeFile(spoolPath, body);
      const db = new FSDB(root2);
      await db.connect();
      const s = await db.getScan(SCAN);
      const up = (await s.hasFileset('up')) ? await s.getFileset('up') : await s.createFileset('up');
      await (await up.createFile(`u${i}`)).writeStream(createReadStream(spoolPath), 'bin');
      await db.disconnect();
      await rm(spoolPath);
      return performance.now() - t0;
    };
    await rawUpload(-1);
    await upload(-1);
    await storageOnly(-1);
    const u: number[] = [];
    const r: number[] = [];
    const st: number[] = [];
    for (let i = 0; i < M; i++) {
      r.push((await rawUpload(i)).ms);
      st.push(await storageOnly(i));
      u.push((await upload(i)).ms);
    }
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    const ms = sum(u) / M;
    const rawMs = sum(r) / M;
    const mbps = size / MB / (ms / 1000);
    const rawMbps = size / MB / (rawMs / 1000);
    const ratio = mbps / rawMbps;
    rows.push({
      workload: 'W8f upload 20 MB (POST /files)',
      ms,
      baselineMs: rawMs,
      target: 'throughput ≥ 0.5× raw',
      met: ratio >= 0.5,
      note:
        `${M} sequential uploads (after 1 untimed), mean ${ms.toFixed(0)} ms (median ${median(u).toFixed(0)}): ${mbps.toFixed(0)} MB/s vs raw ${rawMbps.toFixed(0)} MB/s (median ${median(r).toFixed(0)} ms) = ${ratio.toFixed(2)}× raw; ` +
        `romidb spools the body to a temporary file, then copies it into the database under the writer lock and journals; raw: pipeline(req, createWriteStream); ` +
        `the spool write and the copy through the DB API alone, in this process: median ${median(st).toFixed(0)} ms`,
      metrics: { mbps: round(mbps), rawMbps: round(rawMbps), throughputRatio: round(ratio, 3), medianMs: round(median(u), 1), rawMedianMs: round(median(r), 1), storageOnlyMedianMs: round(median(st), 1) },
    });
  } finally {
    await romidb.close();
    await raw.close();
  }
  return rows;
}

/** Every W8 workload, on data made in a temporary folder (removed at the end). */
export async function runServerBench(opts: Opts): Promise<ServerBenchRow[]> {
  const dir = await mkdtemp(`${tmpdir()}/romidb-bench-server-`);
  const bigBytes = opts.quick ? 20 * MB : 200 * MB;
  const rows: ServerBenchRow[] = [];
  const add = (more: ServerBenchRow[]) => {
    for (const r of more) opts.onRow?.(r);
    rows.push(...more);
  };
  try {
    const t0 = performance.now();
    const db = await filesDb(dir, bigBytes);
    console.error(`  (W8 setup: files of 1.4, 20 and ${(bigBytes / MB).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    add(await throughput(db, opts, opts.quick ? 1 : 3));
    add(await coldThumbnails(db, opts));
    add(await scansInfo(dir, opts));
    add(await writes(dir, opts));
    add(await memory(db, bigBytes, opts));
  } finally {
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
