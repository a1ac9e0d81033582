import { useEffect, useState } from 'preact/hooks';
import { apiUrl, enc, fileId, type ScanInfo } from './api';
import { useJSON } from './hooks';
import { Tree } from './tree';

function imageUrl(scanId: string, id: string, size: 'thumb' | 'large' | 'orig'): string {
  return apiUrl(`/image/${enc(scanId)}/images/${enc(id)}?size=${size}`);
}

/** The `images` fileset as thumbnails; a click opens one large, ←/→ move, Escape closes. */
export function Gallery({ scan }: { scan: ScanInfo }) {
  const fromInfo = scan.images.map(fileId);
  // scanInfo lists the rgb images only; with none, the fileset's files.
  const listed = useJSON<{ files: string[] }>(fromInfo.length || !scan.tasks_fileset.images ? undefined : `/fileset/${enc(scan.id)}/images/files`);
  const ids = fromInfo.length ? fromInfo : listed?.state === 'ok' ? listed.data.files : [];
  const [open, setOpen] = useState<number | undefined>();
  if (!ids.length) return <p>No images.</p>;
  return (
    <>
      <ul class="gallery">
        {ids.map((id, i) => (
          <li key={id}>
            <button type="button" class="gallery-item" onClick={() => setOpen(i)} aria-label={`Open image ${id}`}>
              <img src={imageUrl(scan.id, id, 'thumb')} loading="lazy" alt={id} width={150} height={113} />
            </button>
          </li>
        ))}
      </ul>
      {open !== undefined && <Lightbox scanId={scan.id} ids={ids} index={open} setIndex={setOpen} />}
    </>
  );
}

function Lightbox({ scanId, ids, index, setIndex }: { scanId: string; ids: string[]; index: number; setIndex: (i: number | undefined) => void }) {
  const id = ids[index]!;
  const md = useJSON<{ metadata: unknown }>(`/file/${enc(scanId)}/images/${enc(id)}/metadata`);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'ArrowRight') setIndex((index + 1) % ids.length);
      else if (e.key === 'ArrowLeft') setIndex((index - 1 + ids.length) % ids.length);
      else if (e.key === 'Escape') setIndex(undefined);
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [index, ids.length]);
  return (
    <div class="lightbox" role="dialog" aria-modal="true" aria-label={`Image ${id}`}>
      <div class="lightbox-bar">
        <span class="lightbox-title" data-image={id}>
          {id} ({index + 1}/{ids.length})
        </span>
        <button type="button" onClick={() => setIndex((index - 1 + ids.length) % ids.length)} aria-label="Previous image">
          ←
        </button>
        <button type="button" onClick={() => setIndex((index + 1) % ids.length)} aria-label="Next image">
          →
        </button>
        <a href={imageUrl(scanId, id, 'orig')} target="_blank" rel="noreferrer">
          Original
        </a>
        <button type="button" onClick={() => setIndex(undefined)} aria-label="Close" autoFocus>
          ✕
        </button>
      </div>
      <div class="lightbox-body">
        <img class="lightbox-image" src={imageUrl(scanId, id, 'large')} alt={id} />
        <aside class="lightbox-meta" aria-label="Image metadata">
          {md?.state === 'ok' ? <Tree value={md.data.metadata} openDepth={2} /> : md?.state === 'error' ? <p class="error">{md.error}</p> : <p role="status">Loading…</p>}
        </aside>
      </div>
    </div>
  );
}
