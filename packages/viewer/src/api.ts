/** The REST API (plantdb 0.15's, as `romidb serve` answers it): its base URL and the shapes read here. */

export interface Pose {
  id: string;
  tvec: [number, number, number];
  rotmat: [[number, number, number], [number, number, number], [number, number, number]];
  photoUri: string;
  thumbnailUri: string;
}

export interface ScanInfo {
  id: string;
  metadata: {
    date?: string;
    species?: string;
    plant?: string;
    environment?: string;
    nbPhotos?: number;
    files?: { metadata?: string | null; archive?: string | null };
  };
  thumbnailUri: string;
  images: string[];
  tasks_fileset: Record<string, string>;
  filesUri: Record<string, string>;
  isVirtual?: boolean;
  hasColmap?: boolean;
  hasPointCloud?: boolean;
  hasTriangleMesh?: boolean;
  hasCurveSkeleton?: boolean;
  hasAnglesAndInternodes?: boolean;
  hasAutomatedMeasures?: boolean;
  hasManualMeasures?: boolean;
  hasSegmentedPointCloud?: boolean;
  error: boolean;
  errorMessage?: string;
  workspace?: { x?: [number, number]; y?: [number, number]; z?: [number, number] };
  camera?: { model?: { width: number; height: number; params: number[] }; poses?: Pose[] };
}

export interface Sequence {
  angles?: number[];
  internodes?: number[];
  manual_angles?: number[];
  manual_internodes?: number[];
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

/**
 * `?api=<url>`, else `<meta name="romidb-api" content="...">`, else the page's origin — and the
 * path before `/viewer/` when the viewer is served by `romidb serve` (which may use a prefix).
 */
function apiBase(loc: Location = location): string {
  const query = new URLSearchParams(loc.search).get('api');
  if (query) return trimSlash(query);
  const meta = document.querySelector('meta[name="romidb-api"]')?.getAttribute('content');
  if (meta) return trimSlash(meta);
  const at = loc.pathname.indexOf('/viewer/');
  return loc.origin + (at >= 0 ? loc.pathname.slice(0, at) : '');
}

const API = apiBase();

/** An absolute URL for an API path (`/image/...`) or an URL that is absolute already. */
export function apiUrl(path: string): string {
  return /^https?:\/\//.test(path) ? path : API + (path.startsWith('/') ? path : `/${path}`);
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJSON<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(apiUrl(path), { signal, headers: { accept: 'application/json' } });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { message?: string; error?: string };
      message = body.message ?? body.error ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

export const enc = encodeURIComponent;

/** A file id without its extension (scanInfo.images has names, the routes take ids). */
export function fileId(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}
