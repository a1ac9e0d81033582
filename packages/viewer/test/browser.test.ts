/**
 * The viewer in a real browser (Chromium, driven by playwright-core) against `createServer` over
 * test-fixtures/server-db on fsdb (a folder copy) and on s3db (the fixture copied into a bucket of
 * the patched s3rver): the list, search, filters, a scan page (metadata, gallery, keyboard
 * navigation and focus), the 3D view's pixels, the plots, no console errors, axe-core. The viewer
 * must work unchanged on both: the list, the scan page and the 3D checks run on each; the rest
 * (the redirect, search and sort, the lazy 3D chunk) on fsdb alone.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import axe from 'axe-core';
import { toKey, type Backend, type DB } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB } from '@romi/memdb';
import { S3DB } from '@romi/s3db';
import { createServer } from '@romi/server';
import { startS3rver, type S3TestServer } from '@romi/test-utils';

type FastifyInstance = Awaited<ReturnType<typeof createServer>>;

const FIXTURE = fileURLToPath(new URL('../../../test-fixtures/server-db/', import.meta.url));
/** The committed screenshots are rewritten with ROMI_VIEWER_SCREENSHOTS=1 (from the fsdb run); otherwise they go to a temporary folder. */
const UPDATE_SHOTS = process.env.ROMI_VIEWER_SCREENSHOTS === '1';
let SHOTS: string;
const CHROMIUM = process.env.ROMI_CHROMIUM ?? '/usr/bin/chromium';

let dir: string;
let browser: Browser;
let page: Page;
let problems: string[];

/** Copies every object under the source backend into the destination (raw keys: broken scans stay broken), as packages/server/test/harness.ts does. */
async function copyObjects(src: Backend, dst: Backend): Promise<void> {
  for await (const e of src.list('')) {
    if (e.kind !== 'object' || e.key.endsWith('/')) continue;
    const key = toKey(e.key);
    await dst.put(key, (await src.get(key)).bytes);
  }
}

interface Target {
  name: 'fsdb' | 's3db';
  /** A database holding the fixture (not connected). */
  make(): Promise<DB>;
  close(): Promise<void>;
}

let s3: S3TestServer | undefined;
const TARGETS: Target[] = [
  {
    name: 'fsdb',
    async make() {
      const copy = `${dir}/fsdb`;
      await cp(FIXTURE, copy, { recursive: true });
      return new FSDB(copy);
    },
    async close() {},
  },
  {
    name: 's3db',
    async make() {
      s3 = await startS3rver();
      const db = await S3DB.init({ bucket: await s3.bucket(), prefix: 'db', endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
      await copyObjects(new FSDB(FIXTURE).backend, db.backend);
      return db;
    },
    async close() {
      await s3?.close();
    },
  },
];

beforeAll(async () => {
  dir = await mkdtemp(`${tmpdir()}/romidb-viewer-`);
  SHOTS = UPDATE_SHOTS ? fileURLToPath(new URL('../screenshots/', import.meta.url)) : `${dir}/screenshots/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  problems = [];
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  // The console says only "status of 500": name the request too.
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
});

afterEach(async () => {
  await page.close();
  expect(problems).toEqual([]);
});

const rows = () => page.locator('li.row');

async function seriousViolations(): Promise<string[]> {
  await page.addScriptTag({ content: axe.source });
  const result = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: typeof axe }).axe.run(document);
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.join(', ')}`);
}

describe.each(TARGETS)('the viewer, served at /viewer/, on $name', (target) => {
  let app: FastifyInstance;
  let base: string;
  /** Where a screenshot goes: the committed ones come from fsdb; s3db's go to the temporary folder. */
  let shot: (name: string) => string;
  // Skipped on s3db on purpose: the redirect, the list's client-side search and sort, and which
  // chunks load do not depend on the storage behind the API (run once, on fsdb).
  const fsdbOnly = target.name === 'fsdb';
  beforeAll(async () => {
    app = await createServer({ db: await target.make(), refreshIntervalMs: 0, logger: process.env.ROMI_TEST_SERVER_LOG === '1' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    shot = (name) => (fsdbOnly ? `${SHOTS}${name}` : `${dir}/screenshots-${target.name}/${name}`);
  });
  afterAll(async () => {
    await app?.close();
    await target.close();
  });

  it.runIf(fsdbOnly)('/viewer redirects to /viewer/', async () => {
    const res = await fetch(`${base}/viewer`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('viewer/');
  });

  it('lists every scan, each thumbnail loaded; an error scan shows its error in its row only', async () => {
    await page.goto(`${base}/viewer/`);
    await expect.poll(() => rows().count()).toBe(5);
    const ids = await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-scan')));
    expect(ids.sort()).toEqual(['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant']);
    // Scans with a thumbnailUri (the three with images) show it, loaded.
    const thumbs = page.locator('li.row img.thumb');
    await expect.poll(() => thumbs.count()).toBe(3);
    await expect
      .poll(() => thumbs.evaluateAll((imgs) => (imgs as HTMLImageElement[]).every((i) => i.complete && i.naturalWidth > 0)), { timeout: 15_000 })
      .toBe(true);
    const broken = page.locator('li.row[data-scan="broken_index"]');
    await expect.poll(() => broken.locator('.row-error-message').textContent()).toMatch(/^Error: .*broken_index/);
    expect(await page.locator('.row-error-message').count()).toBe(1);
    // Badges.
    expect(await page.locator('li.row[data-scan="real_plant_analyzed"] .badge').allTextContents()).toEqual(
      expect.arrayContaining(['point cloud', 'mesh', 'skeleton', 'angles']),
    );
    await page.screenshot({ path: shot('list.png') });
    expect(await seriousViolations()).toEqual([]);
  });

  it.runIf(fsdbOnly)('the search box, the filters and the sort narrow and order the list', async () => {
    await page.goto(`${base}/viewer/`);
    await expect.poll(() => rows().count()).toBe(5);
    // Over the metadata too: only real_plant_analyzed's species is Arabidopsis.
    await page.fill('input[type="search"]', 'arabidopsis');
    await expect.poll(() => rows().count()).toBe(1);
    await page.fill('input[type="search"]', 'real_plant');
    await expect.poll(() => rows().count()).toBe(2);
    await page.fill('input[type="search"]', '');
    await expect.poll(() => rows().count()).toBe(5);
    await page.check('input[name="measures"]');
    await expect.poll(() => rows().count()).toBe(2);
    await page.check('input[name="pointcloud"]');
    await expect.poll(() => rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-scan')))).toEqual(['real_plant_analyzed']);
    await page.uncheck('input[name="pointcloud"]');
    await page.uncheck('input[name="measures"]');
    await expect.poll(() => rows().count()).toBe(5);
    const order = () => rows().evaluateAll((els) => els.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((e) => e.getAttribute('data-scan')));
    expect(await order()).toEqual(['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant']);
    await page.click('button[data-sort="id"]');
    await expect.poll(order).toEqual(['virtual_plant', 'real_plant_analyzed', 'real_plant', 'no_images', 'broken_index']);
    await page.click('button[data-sort="species"]');
    // 'Arabidopsis thaliana' < 'N/A' < 'none'.
    await expect.poll(async () => (await order())[0]).toBe('real_plant_analyzed');
    await expect.poll(async () => (await order())[4]).toBe('no_images');
    // A metadata query goes to the API (/scans?filterQuery=, plantdb's nested JSON); not JSON: said, list kept.
    await page.fill('input[name="metadata-query"]', '{"object": {"environment": "Lyon.*"}}');
    await expect.poll(() => rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-scan')).sort())).toEqual(['real_plant', 'real_plant_analyzed']);
    await page.fill('input[name="metadata-query"]', '{"object": ');
    await expect.poll(() => page.locator('#metadata-query-error').textContent()).toMatch(/JSON object/);
    await page.fill('input[name="metadata-query"]', '');
    await expect.poll(() => rows().count()).toBe(5);
  });

  it('a scan page: metadata tree, filesets and files, archive link, gallery with keyboard navigation and focus', async () => {
    await page.goto(`${base}/viewer/#/scan/real_plant`);
    await page.waitForSelector('.tree details');
    // Manual measures only (measures.json, no AnglesAndInternodes task): plotted from /files.
    await expect.poll(() => page.locator('.plot .uplot').count()).toBe(2);
    expect(await page.locator('.plot .u-legend').first().textContent()).toContain('manual angles');
    expect(await page.locator('.tree').textContent()).toContain('object');
    expect(await page.locator('a.archive').getAttribute('href')).toBe(`${base}/archive/real_plant`);
    // Files: open a fileset, its files link to /file/...
    await page.locator('details.fileset summary', { hasText: 'images' }).click();
    const first = page.locator('details.fileset .files a').first();
    await first.waitFor();
    const href = await first.getAttribute('href');
    expect(href).toMatch(new RegExp(`^${base}/file/real_plant/images/`));
    expect((await fetch(href!)).status).toBe(200);
    // Gallery.
    const thumbs = page.locator('.gallery img');
    await expect.poll(() => thumbs.count()).toBeGreaterThan(1);
    await expect.poll(() => thumbs.evaluateAll((imgs) => (imgs as HTMLImageElement[]).every((i) => i.complete && i.naturalWidth > 0))).toBe(true);
    await page.screenshot({ path: shot('scan.png'), fullPage: true });
    await page.locator('.gallery-item').first().click();
    const title = page.locator('.lightbox-title');
    await title.waitFor();
    const before = await title.getAttribute('data-image');
    await expect.poll(() => page.locator('.lightbox-image').evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBeGreaterThan(150);
    await page.waitForSelector('.lightbox-meta details');
    expect(await page.locator('.lightbox-meta').textContent()).toContain('rgb');
    await page.screenshot({ path: shot('image.png') });
    // A labelled modal dialog that keeps the focus: Tab and Shift+Tab cycle inside it.
    const dialog = page.locator('.lightbox');
    expect(await dialog.getAttribute('role')).toBe('dialog');
    expect(await dialog.getAttribute('aria-modal')).toBe('true');
    expect(await dialog.getAttribute('aria-label')).toBe(`Image ${before}`);
    const focused = () =>
      page.evaluate(() => {
        const a = document.activeElement;
        const inside = !!a && !!document.querySelector('.lightbox')?.contains(a);
        return `${inside ? '' : 'outside: '}${(a?.getAttribute('aria-label') ?? a?.textContent ?? '').trim().slice(0, 30)}`;
      });
    expect(await focused()).toBe('Close');
    // The dialog's controls in Tab order (the bar's buttons and link, then the metadata tree's summaries).
    const stops = await dialog.evaluate((d) =>
      [...d.querySelectorAll('a[href], button, summary')].filter((e) => e.getClientRects().length > 0).map((e) => (e.getAttribute('aria-label') ?? e.textContent ?? '').trim().slice(0, 30)),
    );
    expect(stops.slice(0, 4)).toEqual(['Previous image', 'Next image', 'Original', 'Close']);
    expect(stops.length).toBeGreaterThan(4);
    // Tab from Close goes through the rest, then round to the first; Shift+Tab goes back the same way.
    const forward: string[] = [];
    for (let i = 0; i < stops.length; i++) {
      await page.keyboard.press('Tab');
      forward.push(await focused());
    }
    expect(forward).toEqual([...stops.slice(4), ...stops.slice(0, 4)]);
    const backward: string[] = [];
    for (let i = 0; i < stops.length; i++) {
      await page.keyboard.press('Shift+Tab');
      backward.push(await focused());
    }
    expect(backward).toEqual([...stops.slice(0, 3).reverse(), ...stops.slice(3).reverse()]);
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => title.getAttribute('data-image')).not.toBe(before);
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => title.getAttribute('data-image')).toBe(before);
    // Keys pressed faster than the page renders each move from the current image, not a stale one.
    const position = async () => (await title.textContent())!.match(/\((\d+)\//)![1];
    const start = Number(await position());
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await expect.poll(position).toBe(String(start + 3));
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
    await expect.poll(() => title.getAttribute('data-image')).toBe(before);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('.lightbox').count()).toBe(0);
    // The focus is back on the thumbnail that opened it.
    await expect.poll(() => page.evaluate(() => document.activeElement === document.querySelector('.gallery-item'))).toBe(true);
    expect(await seriousViolations()).toEqual([]);
  });

  it('the 3D view draws the point cloud of real_plant_analyzed, with its plots', async () => {
    await page.goto(`${base}/viewer/#/scan/real_plant_analyzed`);
    const status = page.locator('.view3d-status');
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    expect(Number(await status.getAttribute('data-points'))).toBeGreaterThan(1000);
    // The PLY was read in the Web Worker.
    expect(page.workers().map((w) => w.url())).toEqual([expect.stringMatching(/\/viewer\/assets\/ply-worker-[^/]+\.js$/)]);
    // Wait for a frame after the last change, then read the canvas back.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const drawn = await page.locator('canvas.view3d').evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const bg = Number(canvas.dataset.background);
      const ctx = document.createElement('canvas').getContext('2d')!;
      ctx.canvas.width = canvas.width;
      ctx.canvas.height = canvas.height;
      ctx.drawImage(canvas, 0, 0);
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const [r, g, b] = [(bg >> 16) & 255, (bg >> 8) & 255, bg & 255];
      let other = 0;
      // Points are green: count pixels whose green stands out of the background.
      let green = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i]! - r) + Math.abs(px[i + 1]! - g) + Math.abs(px[i + 2]! - b) > 30) other++;
        if (px[i + 1]! > 150 && px[i + 1]! > px[i]! + 40 && px[i + 1]! > px[i + 2]! + 40) green++;
      }
      return { other, green, total: px.length / 4 };
    });
    expect(drawn.other).toBeGreaterThan(500);
    expect(drawn.green).toBeGreaterThan(500);
    // Plots of /sequence (angles and internodes, with the manual measures).
    await expect.poll(() => page.locator('.plot .uplot').count()).toBe(2);
    expect(await page.locator('.plot .u-legend').first().textContent()).toMatch(/angles.*manual angles/);
    await page.locator('#h-3d').scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot('scan-3d.png') });
    expect(await seriousViolations()).toEqual([]);
  });

  it('3D view: a click on a camera pose shows its photo; the mesh and the full point cloud load', async () => {
    await page.goto(`${base}/viewer/#/scan/real_plant_analyzed`);
    const status = page.locator('.view3d-status');
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    const canvas = page.locator('canvas.view3d');
    const poses = JSON.parse((await canvas.getAttribute('data-poses')) ?? '[]') as Array<{ id: string; x: number; y: number }>;
    expect(poses.length).toBe(6);
    const box = (await canvas.boundingBox())!;
    const pose = poses.find((p) => p.x > 5 && p.y > 5 && p.x < box.width - 5 && p.y < box.height - 5)!;
    await page.mouse.click(box.x + pose.x, box.y + pose.y);
    const photo = page.locator('.pose-photo img');
    await photo.waitFor();
    expect(await photo.getAttribute('alt')).toBe(`Photo ${pose.id}`);
    await expect.poll(() => photo.evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    // The mesh, on demand.
    await page.locator('.view3d-bar input[type="checkbox"]').check();
    await expect.poll(() => page.locator('.view3d-bar label').first().textContent(), { timeout: 30_000 }).toMatch(/[\d,]+ triangles/);
    // The original point cloud.
    await page.locator('.view3d-bar button', { hasText: 'Full point cloud' }).click();
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/points \(full\)/);
    expect(Number(await status.getAttribute('data-points'))).toBeGreaterThan(2907);
  });

  it.runIf(fsdbOnly)('three.js is not in the initial chunk; the 3D chunk is loaded only on a scan with 3D data', async () => {
    const loaded: string[] = [];
    page.on('response', (r) => loaded.push(r.url()));
    await page.goto(`${base}/viewer/`);
    await expect.poll(() => rows().count()).toBe(5);
    expect(loaded.filter((u) => /view3d/.test(u))).toEqual([]);
    await page.goto(`${base}/viewer/#/scan/real_plant`);
    await page.waitForSelector('.gallery img');
    expect(loaded.filter((u) => /view3d/.test(u))).toEqual([]);
  });
});

describe('the list of a large database', () => {
  const N = 400;
  let big: FastifyInstance;
  let bigBase: string;
  beforeAll(async () => {
    const db = new MemDB();
    await db.connect();
    for (let i = 0; i < N; i++) {
      await db.createScan(`plant_${String(i).padStart(4, '0')}`, { metadata: { object: { species: i % 2 ? 'Arabidopsis thaliana' : 'Solanum lycopersicum', environment: 'Lyon indoor' } } });
    }
    big = await createServer({ db, refreshIntervalMs: 0 });
    await big.listen({ host: '127.0.0.1', port: 0 });
    const addr = big.server.address();
    bigBase = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await big?.close();
  });

  it(`is virtualised: ${N} scans, a few dozen rows in the page; scrolling reaches the last one`, async () => {
    await page.goto(`${bigBase}/viewer/`);
    await expect.poll(() => page.locator('.count').textContent()).toBe(`${N} of ${N} scans`);
    const inDom = await rows().count();
    expect(inDom).toBeGreaterThan(5);
    expect(inDom).toBeLessThan(40);
    await page.locator('.scroller').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect.poll(() => page.locator(`li.row[data-scan="plant_${String(N - 1).padStart(4, '0')}"]`).count()).toBe(1);
    expect(await rows().count()).toBeLessThan(40);
    await page.fill('input[type="search"]', 'solanum');
    await expect.poll(() => page.locator('.count').textContent()).toBe(`${N / 2} of ${N} scans`);
  });
});
