// Every GET route of plantdb 0.15 on the fixture scans, on every backend, through a real server
// and a real HTTP client: shapes, values and status codes.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '@romi/db-core';
import { decodePointCloud, decodeTriangleMesh, imageSize } from '@romi/io';
import { unzipSync } from 'fflate';
import { FIXTURE, get, serve, targets, type Running } from './harness.js';

const SCANS = ['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant'];
const ANALYZED = 'real_plant_analyzed';
const TASKS = {
  images: 'images',
  Colmap: 'Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc',
  PointCloud: 'PointCloud_1_0_1_0_10_0_7ee836e5a9',
  TriangleMesh: 'TriangleMesh_9_most_connected_t_open3d_00e095c359',
  CurveSkeleton: 'CurveSkeleton__TriangleMesh_0393cb5708',
  AnglesAndInternodes: 'AnglesAndInternodes_1_0_2_0_6_0_6dd64fc595',
};
const fixture = (rel: string) => readFile(`${FIXTURE}${rel}`);
/** Every file under a folder, as relative paths, sorted. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}
const fixtureJson = async (rel: string) => JSON.parse((await fixture(rel)).toString('utf8'));

// In `pnpm test:slow` this file runs on radosgw only: without one, it says so.
if (targets().length === 0) it.skip('runs on radosgw in pnpm test:slow: ROMI_TEST_RGW_ENDPOINT is not set (scripts/ceph/start.sh)', () => {});

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let db: DB;
  let server: Running;
  const url = (path: string) => `${server.url}${path}`;

  beforeAll(async () => {
    made = await target.make();
    db = made.db;
    server = await serve(db);
  });
  afterAll(async () => {
    await server?.close();
    await made?.dispose();
    await target.close();
  });

  it('GET / describes the API (plantdb clients check the name), with CORS for any origin', async () => {
    const res = await get(url('/'));
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const body = res.json();
    expect(body.name).toContain('PlantDB');
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['base endpoints', 'scans endpoints', 'filesets endpoints', 'files endpoints', 'assets endpoints']));
  });

  it('GET /health counts the scans', async () => {
    const res = await get(url('/health'));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'healthy', message: 'API is running correctly', database: { location: db.url, scan_count: SCANS.length } });
  });

  it('GET /scans lists the ids, sorted; a JSON filterQuery is plantdb\'s query, fuzzy=false means false', async () => {
    expect((await get(url('/scans'))).json()).toEqual(SCANS);
    const q = encodeURIComponent(JSON.stringify({ object: { environment: 'Lyon.*' } }));
    expect((await get(url(`/scans?filterQuery=${q}&fuzzy=true`))).json()).toEqual(['real_plant', ANALYZED]);
    expect((await get(url(`/scans?filterQuery=${q}&fuzzy=false`))).json()).toEqual([]);
    const exact = encodeURIComponent(JSON.stringify({ object: { environment: 'Lyon indoor' } }));
    expect((await get(url(`/scans?filterQuery=${exact}`))).json()).toEqual(['real_plant', ANALYZED]);
  });

  it('a plain-text filterQuery is a case-insensitive search of ids and metadata (what the viewer sends)', async () => {
    expect((await get(url('/scans?filterQuery=LYON'))).json()).toEqual(['real_plant', ANALYZED]);
    expect((await get(url('/scans?filterQuery=virtual'))).json()).toEqual(['virtual_plant']);
    const infos = (await get(url('/scans_info?filterQuery=arabidopsis%20thaliana&fuzzy=false'))).json();
    expect(infos.map((i: { id: string }) => i.id)).toEqual([ANALYZED]);
  });

  it('GET /scans_info lists every scan; the broken one has error: true and does not fail the list', async () => {
    const res = await get(url('/scans_info'));
    expect(res.status).toBe(200);
    const infos = res.json() as Array<{ id: string; error: boolean; images: string[]; camera: { poses: unknown[] } }>;
    expect(infos.map((i) => i.id)).toEqual(SCANS);
    expect(infos.filter((i) => i.error).map((i) => i.id)).toEqual(['broken_index']);
    const broken = infos.find((i) => i.id === 'broken_index')!;
    expect(broken).toMatchObject({ error: true, images: [], camera: { poses: [] } });
    for (const info of infos) expect(Array.isArray(info.camera.poses)).toBe(true);
  });

  it('GET /scan/<id>: scanInfo field by field (tasks, flags, files, camera, poses that resolve)', async () => {
    const res = await get(url(`/scan/${ANALYZED}`));
    expect(res.status).toBe(200);
    const info = res.json();
    expect(info.id).toBe(ANALYZED);
    expect(info.metadata).toEqual({
      date: '2023-12-15 16:37:15',
      species: 'Arabidopsis thaliana',
      plant: 'Col-0_real_plant',
      environment: 'Lyon indoor',
      nbPhotos: 6,
      files: { metadata: `/files/${ANALYZED}/metadata/metadata.json`, archive: `/archive/${ANALYZED}` },
    });
    expect(info.thumbnailUri).toBe(`/image/${ANALYZED}/images/00000_rgb?size=thumb`);
    expect(info.images).toEqual([0, 1, 2, 3, 4, 5].map((i) => `0000${i}_rgb.jpg`));
    expect(info.tasks_fileset).toEqual(TASKS);
    expect(info.filesUri).toEqual({
      pointCloud: `/files/${ANALYZED}/${TASKS.PointCloud}/PointCloud.ply`,
      mesh: `/files/${ANALYZED}/${TASKS.TriangleMesh}/TriangleMesh.ply`,
      skeleton: `/files/${ANALYZED}/${TASKS.CurveSkeleton}/CurveSkeleton.json`,
    });
    expect(info).toMatchObject({
      isVirtual: false,
      hasColmap: true,
      hasPointCloud: true,
      hasTriangleMesh: true,
      hasCurveSkeleton: true,
      hasTreeGraph: false,
      hasAnglesAndInternodes: true,
      hasAutomatedMeasures: true,
      hasManualMeasures: true,
      hasSegmentation2D: false,
      hasPcdGroundTruth: false,
      hasPointCloudEvaluation: false,
      hasSegmentedPointCloud: false,
      hasSegmentedPcdEvaluation: false,
      error: false,
      workspace: { x: [340, 440], y: [330, 410], z: [-180, 105] },
    });
    const firstMd = await fixtureJson(`${ANALYZED}/metadata/images/00000_rgb.json`);
    expect(info.camera.model).toEqual(firstMd.colmap_camera.camera_model);
    expect(info.camera.poses).toHaveLength(6);
    expect(info.camera.poses[0]).toEqual({
      id: '00000_rgb',
      tvec: firstMd.colmap_camera.tvec,
      rotmat: firstMd.colmap_camera.rotmat,
      photoUri: `/image/${ANALYZED}/images/00000_rgb?size=orig`,
      thumbnailUri: `/image/${ANALYZED}/images/00000_rgb?size=thumb`,
      isMatched: true,
    });
    for (const uri of [info.thumbnailUri, info.camera.poses[5].photoUri, info.camera.poses[5].thumbnailUri, ...Object.values(info.filesUri as Record<string, string>), info.metadata.files.metadata]) {
      expect((await get(url(uri as string))).status, uri as string).toBe(200);
    }
  });

  it('scanInfo of real_plant (no Colmap) and virtual_plant, and of a scan without images', async () => {
    const real = (await get(url('/scan/real_plant'))).json();
    expect(real).toMatchObject({ filesUri: {}, camera: { poses: [] }, hasManualMeasures: true, hasColmap: false, isVirtual: false, tasks_fileset: { images: 'images' } });
    expect(real.metadata.environment).toBe('Lyon indoor');
    expect(real.metadata.nbPhotos).toBe(6);
    // No metadata/metadata.json: the link goes where the metadata is.
    expect(real.metadata.files.metadata).toBe('/scan/real_plant/metadata');
    const virtual = (await get(url('/scan/virtual_plant'))).json();
    expect(virtual.isVirtual).toBe(true);
    expect(virtual.tasks_fileset.VirtualPlant).toMatch(/^VirtualPlant_/);
    expect(virtual.images).toEqual(['00000_rgb.png']);
    const none = await get(url('/scan/no_images'));
    expect(none.status).toBe(200);
    expect(none.json()).toMatchObject({ id: 'no_images', images: [], thumbnailUri: '', camera: { poses: [] }, error: false, metadata: { species: 'none', nbPhotos: 0 } });
  });

  it('/scans/<id> is an alias of /scan/<id>', async () => {
    expect((await get(url('/scans/real_plant'))).json()).toEqual((await get(url('/scan/real_plant'))).json());
  });

  it('a broken scan alone is a 500 naming the problem; an unknown one a 404', async () => {
    const broken = await get(url('/scan/broken_index'));
    expect(broken.status).toBe(500);
    expect(broken.json().code).toBe('ROMI_CORRUPT');
    const missing = await get(url('/scan/nope'));
    expect(missing.status).toBe(404);
    expect(missing.json().code).toBe('ROMI_NOT_FOUND');
  });

  it('GET /scan/<id>/metadata, with ?key= (a missing key answers {})', async () => {
    const md = (await get(url('/scan/real_plant/metadata'))).json().metadata;
    // metadata.json is absent: object comes from the images fileset metadata, as plantdb shows it.
    expect(md.object.environment).toBe('Lyon indoor');
    expect((await get(url(`/scan/${ANALYZED}/metadata?key=object`))).json()).toEqual({ metadata: (await fixtureJson(`${ANALYZED}/metadata/metadata.json`)).object });
    expect((await get(url('/scan/real_plant/metadata?key=missing'))).json()).toEqual({ metadata: {} });
  });

  it('GET /scan/<id>/filesets, with a JSON query', async () => {
    expect((await get(url(`/scan/${ANALYZED}/filesets`))).json()).toEqual({ filesets: Object.values(TASKS) });
    const q = encodeURIComponent(JSON.stringify({ channels: ['rgb'] }));
    expect((await get(url(`/scan/${ANALYZED}/filesets?query=${q}`))).json()).toEqual({ filesets: ['images'] });
    const bad = await get(url(`/scan/${ANALYZED}/filesets?query=rgb`));
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('ROMI_INVALID_ARGUMENT');
  });

  it('GET /fileset/<s>/<fs>/metadata and /files', async () => {
    expect((await get(url('/fileset/real_plant/images/metadata?key=channels'))).json()).toEqual({ metadata: ['rgb'] });
    expect((await get(url('/fileset/real_plant/images/metadata'))).json().metadata.workspace).toEqual({ x: [340, 440], y: [330, 410], z: [-180, 105] });
    expect((await get(url('/fileset/real_plant/images/files'))).json()).toEqual({ files: [0, 1, 2, 3, 4, 5].map((i) => `0000${i}_rgb`) });
    const q = encodeURIComponent(JSON.stringify({ shot_id: '000001' }));
    expect((await get(url(`/fileset/real_plant/images/files?query=${q}`))).json()).toEqual({ files: ['00001_rgb'] });
    expect((await get(url('/fileset/real_plant/nope/files'))).status).toBe(404);
  });

  it('GET /file/<s>/<fs>/<f> and its metadata', async () => {
    const res = await get(url('/file/real_plant/images/00001_rgb'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(res.body.equals(await fixture('real_plant/images/00001_rgb.jpg'))).toBe(true);
    expect((await get(url('/file/real_plant/images/00001_rgb/metadata'))).json()).toEqual({ metadata: await fixtureJson('real_plant/metadata/images/00001_rgb.json') });
    expect((await get(url('/file/real_plant/images/00001_rgb/metadata?key=channel'))).json()).toEqual({ metadata: 'rgb' });
    expect((await get(url('/file/real_plant/images/99999_rgb'))).status).toBe(404);
  });

  it('GET /files/<path> serves the stored files of a scan with their types', async () => {
    const index = await get(url('/files/real_plant/files.json'));
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^application\/json/);
    expect(index.body.equals(await fixture('real_plant/files.json'))).toBe(true);
    expect((await get(url('/files/real_plant/scan.toml'))).headers['content-type']).toBe('application/toml');
    const ply = await get(url(`/files/${ANALYZED}/${TASKS.PointCloud}/PointCloud.ply`));
    expect(ply.headers['content-type']).toBe('application/ply');
    expect(ply.body.equals(await fixture(`${ANALYZED}/${TASKS.PointCloud}/PointCloud.ply`))).toBe(true);
    expect((await get(url(`/files/${ANALYZED}/metadata/metadata.json`))).status).toBe(200);
  });

  it('GET /image: thumb (default), large, orig, <int>, as_base64', async () => {
    const thumb = await get(url('/image/real_plant/images/00000_rgb'));
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/jpeg');
    expect(thumb.headers['x-content-encoding']).toBe('binary');
    expect(await imageSize(thumb.body)).toMatchObject({ width: 150, height: 113 });
    expect(await imageSize((await get(url('/image/real_plant/images/00000_rgb?size=300'))).body)).toMatchObject({ width: 300, height: 225 });
    expect(await imageSize((await get(url('/image/real_plant/images/00000_rgb?size=large'))).body)).toMatchObject({ width: 1440, height: 1080 });
    const orig = await get(url('/image/virtual_plant/images/00000_rgb?size=orig'));
    expect(orig.headers['content-type']).toBe('image/png');
    expect(orig.body.equals(await fixture('virtual_plant/images/00000_rgb.png'))).toBe(true);
    const b64 = await get(url('/image/real_plant/images/00000_rgb?size=thumb&as_base64=true'));
    expect(b64.headers['content-type']).toMatch(/^application\/json/);
    expect(b64.headers['x-content-encoding']).toBe('base64');
    const body = b64.json();
    expect(body['content-type']).toBe('image/jpeg');
    expect(Buffer.from(body.image, 'base64').equals(thumb.body)).toBe(true);
    // An RGBA PNG becomes an RGB JPEG.
    const rgba = await get(url('/image/virtual_plant/images/00000_rgb?size=thumb'));
    expect(await imageSize(rgba.body)).toMatchObject({ width: 150, height: 150, format: 'jpeg' });
  });

  it('GET /pointcloud and /pcGroundTruth: preview (Open3D voxel 1.8), orig, a voxel size, coords', async () => {
    const base = `${ANALYZED}/${TASKS.PointCloud}/PointCloud`;
    const original = await fixture(`${ANALYZED}/${TASKS.PointCloud}/PointCloud.ply`);
    const preview = await get(url(`/pointcloud/${base}`));
    expect(preview.status).toBe(200);
    expect(preview.headers['content-type']).toBe('application/ply');
    const cloud = decodePointCloud(preview.body);
    expect(cloud.points.length / 3).toBe(2907);
    expect(cloud.normals?.length).toBe(cloud.points.length);
    expect((await get(url(`/pointcloud/${base}?size=orig`))).body.equals(original)).toBe(true);
    const coarse = decodePointCloud((await get(url(`/pointcloud/${base}?size=5.0`))).body);
    expect(coarse.points.length).toBeLessThan(cloud.points.length);
    const coords = (await get(url(`/pointcloud/${base}?coords=true`))).json();
    expect(coords.coordinates).toHaveLength(2907);
    expect(coords.coordinates[0]).toHaveLength(3);
    expect((await get(url(`/pcGroundTruth/${base}`))).body.equals(preview.body)).toBe(true);
  });

  it('GET /mesh: the original, or coords', async () => {
    const rel = `${ANALYZED}/${TASKS.TriangleMesh}/TriangleMesh`;
    const bytes = await fixture(`${rel}.ply`);
    const res = await get(url(`/mesh/${rel}`));
    expect(res.headers['content-type']).toBe('application/ply');
    expect(res.body.equals(bytes)).toBe(true);
    const mesh = decodeTriangleMesh(bytes);
    const coords = (await get(url(`/mesh/${rel}?coords=true`))).json();
    expect(coords.vertices).toHaveLength(mesh.vertices.length / 3);
    expect(coords.triangles).toHaveLength(mesh.triangles.length / 3);
  });

  it('GET /skeleton/<id>: the CurveSkeleton JSON; 404 without one', async () => {
    const res = await get(url(`/skeleton/${ANALYZED}`));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual(await fixtureJson(`${ANALYZED}/${TASKS.CurveSkeleton}/CurveSkeleton.json`));
    const none = await get(url('/skeleton/real_plant'));
    expect(none.status).toBe(404);
    expect(none.json().message).toBe("No 'CurveSkeleton' fileset mapped!");
    expect((await get(url('/skeleton/nope'))).status).toBe(404);
  });

  it('GET /sequence/<id>?type=…: angles and internodes with the manual measures', async () => {
    const auto = await fixtureJson(`${ANALYZED}/${TASKS.AnglesAndInternodes}/AnglesAndInternodes.json`);
    const manual = await fixtureJson(`${ANALYZED}/measures.json`);
    const all = (await get(url(`/sequence/${ANALYZED}`))).json();
    expect(all).toEqual({ ...auto, manual_angles: manual.angles, manual_internodes: manual.internodes });
    expect((await get(url(`/sequence/${ANALYZED}?type=all`))).json()).toEqual(all);
    for (const type of ['angles', 'internodes', 'fruit_points', 'manual_angles', 'manual_internodes']) {
      expect((await get(url(`/sequence/${ANALYZED}?type=${type}`))).json(), type).toEqual(all[type]);
    }
    expect((await get(url(`/sequence/${ANALYZED}?type=bogus`))).status).toBe(400);
    expect((await get(url('/sequence/real_plant'))).status).toBe(404);
  });

  it('GET /archive/<id>: a ZIP of the scan without webcache/', async () => {
    await get(url('/image/real_plant/images/00002_rgb?size=thumb')); // a webcache entry exists now
    const res = await get(url('/archive/real_plant'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-disposition']).toBe('inline; filename="real_plant.zip"');
    const members = unzipSync(new Uint8Array(res.body));
    const names = Object.keys(members).sort();
    expect(Buffer.from(members['images/00002_rgb.jpg']!).equals(await readFile(`${FIXTURE}real_plant/images/00002_rgb.jpg`))).toBe(true);
    expect(names).toContain('files.json');
    expect(names).toContain('images/00002_rgb.jpg');
    expect(names).toContain('metadata/images/00002_rgb.json');
    expect(names.filter((n) => n.startsWith('webcache'))).toEqual([]);
    expect(names).toEqual(await filesUnder(`${FIXTURE}real_plant`));
  });

  it('GET /refresh reloads; an unknown scan_id is a 404 and is never listed', async () => {
    expect((await get(url('/refresh'))).json().message).toBe(`Successfully reloaded entire database with ${SCANS.length} scans.`);
    expect((await get(url('/refresh?scan_id=real_plant'))).json().message).toBe("Successfully reloaded scan 'real_plant'.");
    const unknown = await get(url('/refresh?scan_id=doesnotexist'));
    expect(unknown.status).toBe(404);
    expect((await get(url('/scans'))).json()).toEqual(SCANS);
    expect((await get(url('/scan/doesnotexist'))).status).toBe(404);
  });

  it('GET /openapi.json describes every route; /docs lists them', async () => {
    const doc = (await get(url('/openapi.json'))).json();
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths);
    for (const p of ['/', '/health', '/scans', '/scans_info', '/scan/{scanId}', '/scans/{scanId}', '/scan/{scanId}/metadata', '/scan/{scanId}/filesets', '/fileset/{scanId}/{filesetId}/metadata', '/fileset/{scanId}/{filesetId}/files', '/file/{scanId}/{filesetId}/{fileId}', '/file/{scanId}/{filesetId}/{fileId}/metadata', '/files/{*}', '/image/{scanId}/{filesetId}/{fileId}', '/pointcloud/{scanId}/{filesetId}/{fileId}', '/pcGroundTruth/{scanId}/{filesetId}/{fileId}', '/mesh/{scanId}/{filesetId}/{fileId}', '/skeleton/{scanId}', '/sequence/{scanId}', '/archive/{scanId}', '/refresh']) {
      expect(paths, p).toContain(p);
    }
    const page = await get(url('/docs'));
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text()).toContain('/scans_info');
  });
});
