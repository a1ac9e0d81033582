/**
 * plantdb's `scanInfo` (services/scan.get_scan_info in plantdb 0.15), derived from a romidb
 * scan field by field, with plantdb's bugs fixed (packages/server/README.md lists them):
 * a scan without `images` still has an info, poses carry `isMatched` and URIs that resolve,
 * `camera.poses` is always there.
 */
import { keys, type Backend, type File, type Metadata, type Scan, type SignalOptions } from '@romi/db-core';

export interface ScanInfo {
  id: string;
  metadata: {
    date: string;
    species: unknown;
    plant: unknown;
    environment: unknown;
    nbPhotos: number;
    files: { metadata: string | null; archive: string | null };
  };
  thumbnailUri: string;
  images: string[];
  tasks_fileset: Record<string, string>;
  filesUri: Partial<Record<'pointCloud' | 'mesh' | 'skeleton' | 'tree', string>>;
  isVirtual: boolean;
  hasColmap: boolean;
  hasPointCloud: boolean;
  hasTriangleMesh: boolean;
  hasCurveSkeleton: boolean;
  hasTreeGraph: boolean;
  hasAnglesAndInternodes: boolean;
  hasAutomatedMeasures: boolean;
  hasManualMeasures: boolean;
  hasSegmentation2D: boolean;
  hasPcdGroundTruth: boolean;
  hasPointCloudEvaluation: boolean;
  hasSegmentedPointCloud: boolean;
  hasSegmentedPcdEvaluation: boolean;
  error: boolean;
  /** Only when `error` is true: why the scan could not be read (romidb addition). */
  errorMessage?: string;
  workspace: unknown;
  camera: { model?: unknown; poses: Pose[] };
}

export interface Pose {
  id: string;
  tvec: unknown;
  rotmat: unknown;
  photoUri: string;
  thumbnailUri: string;
  /** Whether Colmap placed this image (it has a pose). */
  isMatched: boolean;
}

/** The images fileset of a scan, as plantdb names it. */
const IMAGES = 'images';

/** Task → file id whose presence in the task's fileset sets `has<Task>` (plantdb's list). */
const TASK_FILES: ReadonlyArray<[flag: keyof ScanInfo, task: string, file: string]> = [
  ['hasColmap', 'Colmap', 'cameras'],
  ['hasPointCloud', 'PointCloud', 'PointCloud'],
  ['hasTriangleMesh', 'TriangleMesh', 'TriangleMesh'],
  ['hasCurveSkeleton', 'CurveSkeleton', 'CurveSkeleton'],
  ['hasTreeGraph', 'TreeGraph', 'TreeGraph'],
  ['hasAnglesAndInternodes', 'AnglesAndInternodes', 'AnglesAndInternodes'],
  ['hasPcdGroundTruth', 'PointCloudGroundTruth', 'PointCloudGroundTruth'],
  ['hasPointCloudEvaluation', 'PointCloudEvaluation', 'PointCloudEvaluation'],
  ['hasSegmentedPointCloud', 'SegmentedPointCloud', 'SegmentedPointCloud'],
  ['hasSegmentedPcdEvaluation', 'SegmentedPointCloudEvaluation', 'SegmentedPointCloudEvaluation'],
];

/** Task → key of `filesUri` (plantdb's task_filesUri_mapping). */
const FILES_URI: ReadonlyArray<[task: string, uriKey: 'pointCloud' | 'mesh' | 'skeleton' | 'tree']> = [
  ['PointCloud', 'pointCloud'],
  ['TriangleMesh', 'mesh'],
  ['CurveSkeleton', 'skeleton'],
  ['TreeGraph', 'tree'],
];

/** plantdb's template: what a scan that cannot be read is listed with (`error: true`). */
export function scanInfoTemplate(id: string, error = false): ScanInfo {
  return {
    id,
    metadata: { date: '01-01-00 00:00:00', species: 'N/A', plant: 'N/A', environment: 'N/A', nbPhotos: 0, files: { metadata: null, archive: null } },
    thumbnailUri: '',
    images: [],
    tasks_fileset: {},
    filesUri: {},
    isVirtual: false,
    hasColmap: false,
    hasPointCloud: false,
    hasTriangleMesh: false,
    hasCurveSkeleton: false,
    hasTreeGraph: false,
    hasAnglesAndInternodes: false,
    hasAutomatedMeasures: false,
    hasManualMeasures: false,
    hasSegmentation2D: false,
    hasPcdGroundTruth: false,
    hasPointCloudEvaluation: false,
    hasSegmentedPointCloud: false,
    hasSegmentedPcdEvaluation: false,
    error,
    workspace: {},
    camera: { poses: [] },
  };
}

/** Task name of a fileset id: the part before the first `_` (the last fileset of a task wins). */
export function taskFilesets(filesetIds: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const id of filesetIds) map[id.split('_')[0]!] = id;
  return map;
}

/**
 * The scan metadata plantdb shows: metadata/metadata.json with `object`, `hardware` and
 * `acquisition_date` taken from the images fileset's metadata (metadata/images.json), where the
 * scanner writes them. plantdb also overwrites them with `{}`/null when images.json lacks them;
 * here only the keys images.json has are taken.
 */
export async function plantdbScanMetadata(scan: Scan, opts: SignalOptions = {}): Promise<Metadata> {
  const md = await scan.getMetadata(opts);
  if (!(await scan.hasFileset(IMAGES, opts))) return md;
  const images = await (await scan.getFileset(IMAGES, opts)).getMetadata(opts);
  for (const k of ['object', 'hardware', 'acquisition_date']) {
    if (Object.prototype.hasOwnProperty.call(images, k)) md[k] = images[k];
  }
  return md;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM:SS` in local time, as plantdb formats the scan folder's time. */
function formatLocalDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The scanInfo of one scan. Throws what reading the scan throws (a corrupt files.json, say). */
export async function buildScanInfo(scan: Scan, backend: Backend, opts: SignalOptions = {}): Promise<ScanInfo> {
  const id = scan.id;
  const info = scanInfoTemplate(id);
  const filesetIds = await scan.listFilesets(opts);
  const tasks = taskFilesets(filesetIds);
  info.tasks_fileset = tasks;
  info.isVirtual = 'VirtualPlant' in tasks;

  const md = await plantdbScanMetadata(scan, opts);
  const date = md.acquisition_date;
  if (typeof date === 'string') {
    info.metadata.date = date;
  } else {
    const stamp = (await backend.head(keys.scanFolder(id), opts))?.mtime ?? (await backend.head(keys.index(id), opts))?.mtime;
    info.metadata.date = stamp ? formatLocalDate(stamp) : info.metadata.date;
  }
  if (isObject(md.object)) {
    info.metadata.species = md.object.species ?? 'N/A';
    info.metadata.environment = md.object.environment ?? 'N/A';
    info.metadata.plant = md.object.plant_id ?? 'N/A';
  }
  info.metadata.files.archive = `/archive/${id}`;
  info.metadata.files.metadata = (await backend.head(keys.scanMetadata(id), opts)) ? `/files/${id}/metadata/metadata.json` : `/scan/${id}/metadata`;

  for (const [flag, task, file] of TASK_FILES) {
    const fsId = tasks[task];
    (info[flag] as boolean) = fsId !== undefined && (await (await scan.getFileset(fsId, opts)).hasFile(file, opts));
  }
  info.hasAutomatedMeasures = info.hasAnglesAndInternodes;
  info.hasManualMeasures = (await backend.head(keys.measures(id), opts)) !== undefined;
  for (const [task, uriKey] of FILES_URI) {
    const fsId = tasks[task];
    if (fsId === undefined || !info[`has${task}` as keyof ScanInfo]) continue;
    const file = await (await scan.getFileset(fsId, opts)).getFile(task, opts);
    if (file.filename) info.filesUri[uriKey] = `/files/${id}/${fsId}/${file.filename}`;
  }

  if (filesetIds.includes(IMAGES)) await addImages(info, scan, opts);
  return info;
}

async function addImages(info: ScanInfo, scan: Scan, opts: SignalOptions): Promise<void> {
  const fileset = await scan.getFileset(IMAGES, opts);
  const files = await fileset.getFiles(opts);
  const imageUri = (file: File, size: string) => `/image/${scan.id}/${IMAGES}/${file.id}?size=${size}`;
  if (files.length > 0) info.thumbnailUri = imageUri(files[0]!, 'thumb');
  info.workspace = await fileset.getMetadata('workspace', {}, opts);

  const rgb: Array<{ file: File; md: Metadata }> = [];
  for (const file of files) {
    const md = await file.getMetadata(opts);
    if (md.channel === 'rgb' && file.filename) rgb.push({ file, md });
  }
  info.images = rgb.map(({ file }) => file.filename!);
  info.metadata.nbPhotos = info.images.length;

  // plantdb reads the camera model from the first image of the fileset, whatever its channel.
  const first: unknown = files[0] ? await files[0].getMetadata('colmap_camera', undefined, opts) : undefined;
  if (isObject(first) && Object.keys(first).length > 0) {
    info.camera.model = first.camera_model;
    info.camera.poses = rgb.map(({ file, md }) => {
      const camera = isObject(md.colmap_camera) ? md.colmap_camera : {};
      const isMatched = Array.isArray(camera.tvec) && Array.isArray(camera.rotmat);
      return {
        id: file.id,
        tvec: camera.tvec ?? null,
        rotmat: camera.rotmat ?? null,
        photoUri: imageUri(file, 'orig'),
        thumbnailUri: imageUri(file, 'thumb'),
        isMatched,
      };
    });
  }
}
