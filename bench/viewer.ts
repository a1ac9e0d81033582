/**
 * W9 viewer: @romi/viewer (packages/viewer/dist) in Chromium (playwright-core, /usr/bin/chromium or
 * ROMI_CHROMIUM, SwiftShader for WebGL as in its browser test), against @romi/server over an fsdb
 * folder in a child process (bench/server-proc.ts), the timings taken in the page.
 *
 *   W9a the list of 2,000 scans (200 with --quick), each with 3 small real JPEGs: from page.goto('/viewer/')
 *       to the list painted with every visible row's thumbnail loaded (naturalWidth > 0). Cold: the first
 *       load on a fresh server (catalog and webcache empty); warm: the median of 3 more, each in a fresh
 *       browser context. Baseline: GET /scans_info alone on the same server (cold: on another fresh
 *       server), by fetch in this process.
 *   W9b from page.goto('/viewer/#/scan/real_plant_analyzed') (a copy of test-fixtures/server-db) to the
 *       first frame drawn with the point cloud (the performance mark 'romidb:first-cloud-frame' that
 *       src/view3d-panel.tsx sets), median of 3 after a cold one. Baseline: fetching the same preview PLY.
 *   W9c the built bundle: the scripts index.html loads at once, gzipped (zlib), ≤ 300 KB; the 3D chunk.
 *
 * Timings are reported, never asserted; W9a and W9b have no target (reported), W9c has the bundle budget.
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { scansDb, startChild, type ServerBenchRow } from './server.js';

const DIST = fileURLToPath(new URL('../packages/viewer/dist/', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../test-fixtures/server-db/', import.meta.url));
const CHROMIUM = process.env.ROMI_CHROMIUM ?? '/usr/bin/chromium';
const FIRST_CLOUD_FRAME = 'romidb:first-cloud-frame';
const KB = 1000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

interface Opts {
  quick: boolean;
  onRow?: (row: ServerBenchRow) => void;
}

/** One GET by fetch, its body read whole: the time to the last byte. */
async function fetchTime(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms, bytes: body.byteLength };
}

/** A small real JPEG (a gradient with noise, 640×480), as a camera's image would be once shrunk. */
async function realJpeg(): Promise<Uint8Array> {
  const w = 640;
  const h = 480;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const n = (x * 7919 + y * 104729) % 31;
      px[i] = (x / w) * 120 + n;
      px[i + 1] = 90 + (y / h) * 140 + n;
      px[i + 2] = 60 + n;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

/**
 * A fresh browser context loads `url` and waits for `ready` (a page function answering
 * performance.now() once the page is there, or 0); answers the page's own time from navigation
 * start to that moment (so Playwright's round trips are not counted).
 */
async function pageTime(browser: Browser, url: string, ready: () => number): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const handle = await page.waitForFunction(ready, undefined, { polling: 'raf', timeout: 120_000 });
    const at = (await handle.jsonValue()) as number;
    if (errors.length) throw new Error(`${url}: ${errors.join('; ')}`);
    return at;
  } finally {
    await context.close();
  }
}

/** In the page: the list is painted and every row in the scroller's view has its thumbnail loaded. */
function listReady(): number {
  const scroller = document.querySelector('.scroller');
  const rows = [...document.querySelectorAll('li.row')];
  if (!scroller || rows.length === 0) return 0;
  const view = scroller.getBoundingClientRect();
  const visible = rows.filter((r) => {
    const b = r.getBoundingClientRect();
    return b.bottom > view.top && b.top < view.bottom;
  });
  if (visible.length === 0) return 0;
  for (const r of visible) {
    const img = r.querySelector('img.thumb') as HTMLImageElement | null;
    if (!img || !img.complete || img.naturalWidth === 0) return 0;
  }
  return performance.now();
}

/** In the page: when the first frame with the point cloud was drawn. */
function cloudReady(): number {
  return performance.getEntriesByName('romidb:first-cloud-frame')[0]?.startTime ?? 0;
}

/** W9a: the list page of `n` scans. */
async function list(dir: string, browser: Browser, opts: Opts): Promise<ServerBenchRow[]> {
  const n = opts.quick ? 200 : 2_000;
  const made = await scansDb(dir, n, await realJpeg());
  console.error(`  (W9a setup: ${n} scans × 3 real JPEGs in ${(made.ms / 1000).toFixed(1)} s)`);
  // The cold baseline: the first /scans_info of a fresh server (this one touches no thumbnail).
  const first = await startChild({ kind: 'romidb', root: made.root });
  let coldApi: { ms: number; bytes: number };
  try {
    coldApi = await fetchTime(`${first.url}/scans_info`);
  } finally {
    await first.close();
  }
  const server = await startChild({ kind: 'romidb', root: made.root });
  try {
    const url = `${server.url}/viewer/`;
    const cold = await pageTime(browser, url, listReady);
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) warm.push(await pageTime(browser, url, listReady));
    const api: number[] = [];
    for (let i = 0; i < 3; i++) api.push((await fetchTime(`${server.url}/scans_info`)).ms);
    const ms = median(warm);
    const base = median(api);
    const kB = (coldApi.bytes / KB).toFixed(0);
    return [
      {
        workload: `W9a viewer list of ${n} scans, cold`,
        ms: cold,
        baselineMs: coldApi.ms,
        target: '',
        met: undefined,
        note: `first load on a fresh server (catalog and webcache empty: the visible rows' thumbnails are made); from page.goto to every visible row's thumbnail loaded; baseline: the first GET /scans_info (${kB} kB) of another fresh server`,
        metrics: { ms: round(cold), scansInfoMs: round(coldApi.ms), scansInfoBytes: coldApi.bytes },
      },
      {
        workload: `W9a viewer list of ${n} scans, warm`,
        ms,
        baselineMs: base,
        target: '',
        met: undefined,
        note: `median of 3 loads (${warm.map((x) => x.toFixed(0)).join(', ')} ms), each in a fresh browser context, webcache warm; baseline: GET /scans_info by fetch (median of 3)`,
        metrics: { ms: round(ms), runs: warm.length, scansInfoMs: round(base) },
      },
    ];
  } finally {
    await server.close();
  }
}

/** W9b: the first frame with the real point cloud of real_plant_analyzed. */
async function firstCloudFrame(dir: string, browser: Browser): Promise<ServerBenchRow[]> {
  const root = `${dir}/fixture-db`;
  await cp(FIXTURE, root, { recursive: true });
  const server = await startChild({ kind: 'romidb', root });
  try {
    const scan = 'real_plant_analyzed';
    const info = (await (await fetch(`${server.url}/scans_info`)).json()) as Array<{ id: string; tasks_fileset: Record<string, string> }>;
    const fs = info.find((s) => s.id === scan)!.tasks_fileset.PointCloud!;
    const ply = `${server.url}/pointcloud/${scan}/${fs}/PointCloud?size=preview`;
    const url = `${server.url}/viewer/#/scan/${scan}`;
    const cold = await pageTime(browser, url, cloudReady);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await pageTime(browser, url, cloudReady));
    const dl: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const r = await fetchTime(ply);
      dl.push(r.ms);
      bytes = r.bytes;
    }
    const ms = median(runs);
    const base = median(dl);
    return [
      {
        workload: `W9b viewer first point-cloud frame (${scan})`,
        ms,
        baselineMs: base,
        target: '',
        met: undefined,
        note:
          `from page.goto to the mark '${FIRST_CLOUD_FRAME}', median of 3 (${runs.map((x) => x.toFixed(0)).join(', ')} ms) in fresh browser contexts, ` +
          `after a first load on a fresh server of ${cold.toFixed(0)} ms; WebGL on SwiftShader; baseline: fetching the preview PLY (${(bytes / KB).toFixed(0)} kB, median of 3)`,
        metrics: { ms: round(ms), coldMs: round(cold), plyMs: round(base), plyBytes: bytes },
      },
    ];
  } finally {
    await server.close();
  }
}

/** W9c: the built bundle's sizes, gzipped. The "ms" columns hold kB here. */
async function bundle(): Promise<ServerBenchRow[]> {
  const html = await readFile(`${DIST}index.html`, 'utf8');
  const initial = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\.\/([^"]+\.js)"/g)].map((m) => m[1]!);
  if (!initial.length) throw new Error(`${DIST}index.html loads no script`);
  const gz = async (f: string) => ({ raw: (await readFile(`${DIST}${f}`)).length, gz: gzipSync(await readFile(`${DIST}${f}`), { level: 9 }).length });
  let raw = 0;
  let zipped = 0;
  for (const f of initial) {
    const s = await gz(f);
    raw += s.raw;
    zipped += s.gz;
  }
  const assets = await readdir(`${DIST}assets`);
  const three = assets.find((f) => /^view3d-panel-.*\.js$/.test(f));
  const three3d = three ? await gz(`assets/${three}`) : undefined;
  const budget = 300;
  const kb = zipped / KB;
  return [
    {
      workload: 'W9c viewer initial JS, gzipped (kB)',
      ms: kb,
      baselineMs: budget,
      target: `≤ ${budget} KB gzipped`,
      met: kb <= budget,
      note:
        `sizes in kB in the time columns, the baseline being the budget: ${initial.join(', ')}: ${(raw / KB).toFixed(1)} kB raw, ${kb.toFixed(1)} kB gzipped (zlib level 9)` +
        (three3d ? `; the 3D chunk ${three}: ${(three3d.raw / KB).toFixed(1)} kB raw, ${(three3d.gz / KB).toFixed(1)} kB gzipped, loaded on a scan with 3D data` : ''),
      metrics: { initialBytes: raw, initialGzipBytes: zipped, view3dBytes: three3d?.raw ?? 0, view3dGzipBytes: three3d?.gz ?? 0 },
    },
  ];
}

/** Every W9 workload; the viewer must be built (pnpm --filter @romi/viewer build). */
export async function runViewerBench(opts: Opts): Promise<ServerBenchRow[]> {
  await readFile(`${DIST}index.html`).catch(() => {
    throw new Error('packages/viewer/dist is missing: run pnpm --filter @romi/viewer build first');
  });
  const dir = await mkdtemp(`${tmpdir()}/romidb-bench-viewer-`);
  const rows: ServerBenchRow[] = [];
  const add = (more: ServerBenchRow[]) => {
    for (const r of more) opts.onRow?.(r);
    rows.push(...more);
  };
  const browser = await launch();
  try {
    add(await bundle());
    add(await list(dir, browser, opts));
    add(await firstCloudFrame(dir, browser));
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
