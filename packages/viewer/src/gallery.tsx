import { useEffect, useRef, useState, type Dispatch, type StateUpdater } from 'preact/hooks';
import { apiUrl, enc, fileId, type ScanInfo } from './api';
import { useJSON } from './hooks';
import { Tree } from './tree';

function imageUrl(scanId: string, id: string, size: 'thumb' | 'large' | 'orig'): string {
  return apiUrl(`/image/${enc(scanId)}/images/${enc(id)}?size=${size}`);
}

/**
 * The `images` fileset as thumbnails; a click opens one large in a modal dialog (focus kept inside
 * it: Tab and Shift+Tab cycle through its controls), ←/→ move, Escape closes and gives the focus
 * back to the thumbnail that opened it.
 */
export function Gallery({ scan }: { scan: ScanInfo }) {
  const fromInfo = scan.images.map(fileId);
  // scanInfo lists the rgb images only; with none, the fileset's files.
  const listed = useJSON<{ files: string[] }>(fromInfo.length || !scan.tasks_fileset.images ? undefined : `/fileset/${enc(scan.id)}/images/files`);
  const ids = fromInfo.length ? fromInfo : listed?.state === 'ok' ? listed.data.files : [];
  const [open, setOpen] = useState<number | undefined>();
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (open === undefined && opener.current) {
      opener.current.focus();
      opener.current = null;
    }
  }, [open]);
  if (!ids.length) return <p>No images.</p>;
  return (
    <>
      <ul class="gallery">
        {ids.map((id, i) => (
          <li key={id}>
            <button
              type="button"
              class="gallery-item"
              onClick={(e) => {
                opener.current = e.currentTarget;
                setOpen(i);
              }}
              aria-label={`Open image ${id}`}
            >
              <img src={imageUrl(scan.id, id, 'thumb')} loading="lazy" alt={id} width={150} height={113} />
            </button>
          </li>
        ))}
      </ul>
      {open !== undefined && <Lightbox scanId={scan.id} ids={ids} index={open} setIndex={setOpen} />}
    </>
  );
}

function Lightbox({ scanId, ids, index, setIndex }: { scanId: string; ids: string[]; index: number; setIndex: Dispatch<StateUpdater<number | undefined>> }) {
  const id = ids[index]!;
  const md = useJSON<{ metadata: unknown }>(`/file/${enc(scanId)}/images/${enc(id)}/metadata`);
  const dialog = useRef<HTMLDivElement>(null);
  const close = useRef<HTMLButtonElement>(null);
  // The focus moves into the dialog when it opens (the autofocus attribute only counts at page load).
  useEffect(() => {
    close.current?.focus();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Tab') {
        trapTab(dialog.current!, e);
        return;
      }
      // From the current index, not this render's: a key pressed before the effect is attached
      // again (right after a change) would otherwise move from a stale one.
      if (e.key === 'ArrowRight') setIndex((i) => ((i ?? 0) + 1) % ids.length);
      else if (e.key === 'ArrowLeft') setIndex((i) => ((i ?? 0) - 1 + ids.length) % ids.length);
      else if (e.key === 'Escape') setIndex(undefined);
      else return;
      e.preventDefault();
    };
    // Focus that lands outside the dialog (a click behind it) comes back in.
    const onFocus = (e: FocusEvent) => {
      const d = dialog.current;
      if (d && e.target instanceof Node && !d.contains(e.target)) focusables(d)[0]?.focus();
    };
    addEventListener('keydown', onKey);
    document.addEventListener('focusin', onFocus);
    return () => {
      removeEventListener('keydown', onKey);
      document.removeEventListener('focusin', onFocus);
    };
  }, [ids.length]);
  return (
    <div class="lightbox" role="dialog" aria-modal="true" aria-label={`Image ${id}`} ref={dialog}>
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
        <button type="button" onClick={() => setIndex(undefined)} aria-label="Close" ref={close}>
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

/** The elements of `root` that Tab reaches, in document order. */
function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled]), summary, [tabindex]:not([tabindex="-1"])')].filter(
    (el) => el.getClientRects().length > 0,
  );
}

/** Tab on the last control goes to the first, Shift+Tab on the first to the last: the focus stays in the dialog. */
function trapTab(root: HTMLElement, e: KeyboardEvent): void {
  const list = focusables(root);
  if (!list.length) return;
  const first = list[0]!;
  const last = list[list.length - 1]!;
  const at = document.activeElement;
  const inside = at instanceof Node && root.contains(at);
  if (e.shiftKey ? !inside || at === first : !inside || at === last) {
    e.preventDefault();
    (e.shiftKey ? last : first).focus();
  }
}
