import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { apiUrl, enc, getJSON, type ScanInfo } from './api';
import { useJSON } from './hooks';
import { BADGES } from './list';
import { Gallery } from './gallery';
import { Tree } from './tree';

// The heavy parts are chunks of their own, loaded when a scan needs them.
const View3D = lazy(() => import('./view3d-panel').then((m) => ({ default: m.View3DPanel })));
const Plots = lazy(() => import('./plots').then((m) => ({ default: m.Plots })));

export function ScanPage({ id }: { id: string }) {
  const info = useJSON<ScanInfo>(`/scan/${enc(id)}`);
  useEffect(() => {
    document.title = `${id} — romidb viewer`;
  }, [id]);
  return (
    <article class="scan-page">
      <p>
        <a href="#/">← All scans</a>
      </p>
      <h1>{id}</h1>
      {info?.state === 'loading' && <p role="status">Loading…</p>}
      {info?.state === 'error' && (
        <p role="alert" class="error">
          Cannot read this scan: {info.error}
        </p>
      )}
      {info?.state === 'ok' && <ScanBody scan={info.data} />}
    </article>
  );
}

function ScanBody({ scan }: { scan: ScanInfo }) {
  const has3D = !!(scan.hasPointCloud || scan.hasTriangleMesh || scan.hasCurveSkeleton);
  return (
    <>
      <p class="summary">
        {scan.metadata.species} · {scan.metadata.environment} · {scan.metadata.date}{' '}
        {BADGES.filter(([k]) => scan[k]).map(([k, label]) => (
          <span key={k} class="badge">
            {label}
          </span>
        ))}
      </p>
      <p>
        <a class="archive" href={apiUrl(`/archive/${enc(scan.id)}`)} download={`${scan.id}.zip`}>
          Download the whole scan (zip)
        </a>
      </p>
      {has3D && (
        <section aria-labelledby="h-3d">
          <h2 id="h-3d">3D view</h2>
          <Suspense fallback={<p role="status">Loading the 3D view…</p>}>
            <View3D scan={scan} />
          </Suspense>
        </section>
      )}
      {(scan.hasAnglesAndInternodes || scan.hasManualMeasures) && (
        <section aria-labelledby="h-measures">
          <h2 id="h-measures">Measures</h2>
          <Suspense fallback={<p role="status">Loading the plots…</p>}>
            <Plots scanId={scan.id} automated={!!scan.hasAnglesAndInternodes} />
          </Suspense>
        </section>
      )}
      <section aria-labelledby="h-images">
        <h2 id="h-images">Images</h2>
        <Gallery scan={scan} />
      </section>
      <section aria-labelledby="h-metadata">
        <h2 id="h-metadata">Metadata</h2>
        <Metadata scanId={scan.id} />
      </section>
      <section aria-labelledby="h-filesets">
        <h2 id="h-filesets">Filesets and files</h2>
        <Filesets scanId={scan.id} />
      </section>
    </>
  );
}

function Metadata({ scanId }: { scanId: string }) {
  const md = useJSON<{ metadata: unknown }>(`/scan/${enc(scanId)}/metadata`);
  if (md?.state === 'loading') return <p role="status">Loading…</p>;
  if (md?.state === 'error') return <p class="error">{md.error}</p>;
  if (md?.state !== 'ok') return null;
  return (
    <div class="tree">
      <Tree value={md.data.metadata} openDepth={2} />
    </div>
  );
}

function Filesets({ scanId }: { scanId: string }) {
  const list = useJSON<{ filesets: string[] }>(`/scan/${enc(scanId)}/filesets`);
  if (list?.state === 'loading') return <p role="status">Loading…</p>;
  if (list?.state === 'error') return <p class="error">{list.error}</p>;
  if (list?.state !== 'ok') return null;
  return (
    <ul class="filesets">
      {list.data.filesets.map((fs) => (
        <li key={fs}>
          <Fileset scanId={scanId} fs={fs} />
        </li>
      ))}
    </ul>
  );
}

function Fileset({ scanId, fs }: { scanId: string; fs: string }) {
  const [files, setFiles] = useState<string[] | string | undefined>();
  const load = () => {
    if (files !== undefined) return;
    getJSON<{ files: string[] }>(`/fileset/${enc(scanId)}/${enc(fs)}/files`).then(
      (r) => setFiles(r.files),
      (e: Error) => setFiles(e.message),
    );
  };
  return (
    <details class="fileset" onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && load()}>
      <summary>{fs}</summary>
      {files === undefined && <p role="status">Loading…</p>}
      {typeof files === 'string' && <p class="error">{files}</p>}
      {Array.isArray(files) && (
        <ul class="files">
          {files.map((f) => (
            <li key={f}>
              <a href={apiUrl(`/file/${enc(scanId)}/${enc(fs)}/${enc(f)}`)} download={f}>
                {f}
              </a>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
