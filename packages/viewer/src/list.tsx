import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiUrl, enc, getJSON, type ScanInfo } from './api';
import { useJSON } from './hooks';
import { useVirtualizer } from './virtual';

type SortKey = 'id' | 'species' | 'environment' | 'date';

const FILTERS = [
  { key: 'pointcloud', label: 'Point cloud', test: (s: ScanInfo) => !!s.hasPointCloud },
  { key: 'mesh', label: 'Mesh', test: (s: ScanInfo) => !!s.hasTriangleMesh },
  { key: 'skeleton', label: 'Skeleton', test: (s: ScanInfo) => !!s.hasCurveSkeleton },
  { key: 'measures', label: 'Measures', test: (s: ScanInfo) => !!(s.hasAnglesAndInternodes || s.hasAutomatedMeasures || s.hasManualMeasures) },
] as const;

/** The flags shown as badges. */
export const BADGES: Array<[keyof ScanInfo, string]> = [
  ['hasPointCloud', 'point cloud'],
  ['hasTriangleMesh', 'mesh'],
  ['hasCurveSkeleton', 'skeleton'],
  ['hasAnglesAndInternodes', 'angles'],
  ['hasManualMeasures', 'manual measures'],
  ['hasColmap', 'camera poses'],
  ['hasSegmentedPointCloud', 'segmented'],
  ['isVirtual', 'virtual'],
];

const COLUMNS: Array<[SortKey, string]> = [
  ['id', 'Scan'],
  ['species', 'Species'],
  ['environment', 'Environment'],
  ['date', 'Date'],
];

function sortValue(s: ScanInfo, key: SortKey): string {
  if (key === 'id') return s.id;
  const v = s.metadata?.[key];
  if (key === 'date' && typeof v === 'string') {
    // plantdb's "YYYY-MM-DD HH:MM:SS"; anything else sorts first.
    return /^\d{4}-/.test(v) ? v : '';
  }
  return typeof v === 'string' ? v.toLowerCase() : '';
}

function haystack(s: ScanInfo): string {
  return `${s.id} ${JSON.stringify(s.metadata ?? {})}`.toLowerCase();
}

/**
 * The ids of the scans a metadata query keeps: the API's own query (`/scans?filterQuery=`,
 * plantdb's nested JSON, values as regular expressions with fuzzy), asked a moment after typing stops.
 */
function useMetadataQuery(text: string): { ids?: Set<string>; error?: string } {
  const [result, setResult] = useState<{ ids?: Set<string>; error?: string }>({});
  useEffect(() => {
    const query = text.trim();
    if (!query) {
      setResult({});
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(query);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      setResult({ error: 'A metadata query is a JSON object, e.g. {"object": {"species": "Arabidopsis.*"}}' });
      return;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      getJSON<string[]>(`/scans?filterQuery=${enc(query)}&fuzzy=true`, ctl.signal).then(
        (ids) => setResult({ ids: new Set(ids) }),
        (err: Error) => {
          if (!ctl.signal.aborted) setResult({ error: err.message });
        },
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [text]);
  return result;
}

export function ScanList() {
  const scans = useJSON<ScanInfo[]>('/scans_info');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'id', dir: 1 });
  const [filters, setFilters] = useState<Set<string>>(new Set());
  const [metaText, setMetaText] = useState('');
  const metadataQuery = useMetadataQuery(metaText);

  const rows = useMemo(() => {
    if (scans?.state !== 'ok') return [];
    const q = query.trim().toLowerCase();
    const active = FILTERS.filter((f) => filters.has(f.key));
    const kept = metadataQuery.ids;
    const out = scans.data.filter((s) => (!q || haystack(s).includes(q)) && (!kept || kept.has(s.id)) && active.every((f) => f.test(s)));
    return out.sort((a, b) => sort.dir * sortValue(a, sort.key).localeCompare(sortValue(b, sort.key)));
  }, [scans, query, sort, filters, metadataQuery]);

  const toggle = (key: string) => {
    const next = new Set(filters);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setFilters(next);
  };

  return (
    <section class="list-page">
      <h1>Scans</h1>
      <div class="controls">
        <label class="search">
          <span>Search</span>
          <input type="search" value={query} placeholder="id, species, environment…" onInput={(e) => setQuery(e.currentTarget.value)} />
        </label>
        <label class="search">
          <span>Metadata query</span>
          <input type="search" name="metadata-query" value={metaText} placeholder='{"object": {"species": "Arabidopsis.*"}}' onInput={(e) => setMetaText(e.currentTarget.value)} aria-describedby="metadata-query-error" />
        </label>
        <fieldset class="filters">
          <legend>Only scans with</legend>
          {FILTERS.map((f) => (
            <label key={f.key}>
              <input type="checkbox" name={f.key} checked={filters.has(f.key)} onChange={() => toggle(f.key)} /> {f.label}
            </label>
          ))}
        </fieldset>
      </div>
      <p id="metadata-query-error" role="alert" class="error" hidden={!metadataQuery.error}>
        {metadataQuery.error}
      </p>
      {scans?.state === 'loading' && <p role="status">Loading scans…</p>}
      {scans?.state === 'error' && (
        <p role="alert" class="error">
          Cannot list the scans: {scans.error}
        </p>
      )}
      {scans?.state === 'ok' && (
        <>
          <p class="count" role="status">
            {rows.length} of {scans.data.length} scans
          </p>
          <div class="list-head" role="group" aria-label="Sort by">
            <span class="thumb-col" aria-hidden="true" />
            {COLUMNS.map(([key, label]) => (
              <button
                key={key}
                type="button"
                class={`col col-${key}`}
                data-sort={key}
                aria-pressed={sort.key === key}
                onClick={() => setSort((s) => ({ key, dir: s.key === key ? ((-s.dir) as 1 | -1) : 1 }))}
              >
                {label}
                {sort.key === key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
              </button>
            ))}
            <span class="col col-flags">Data</span>
          </div>
          <VirtualRows rows={rows} />
        </>
      )}
    </section>
  );
}

const ROW_HEIGHT = 76;

function VirtualRows({ rows }: { rows: ScanInfo[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 6 });
  return (
    <div class="scroller" ref={scroller} tabIndex={0} aria-label="Scan list">
      <ul class="rows" style={{ height: `${v.getTotalSize()}px` }}>
        {v.getVirtualItems().map((item) => {
          const s = rows[item.index]!;
          return (
            <li key={s.id} class={`row${s.error ? ' row-error' : ''}`} data-scan={s.id} style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}>
              <Row scan={s} />
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function Row({ scan: s }: { scan: ScanInfo }) {
  return (
    <>
      <span class="thumb-col">{s.thumbnailUri ? <img class="thumb" src={apiUrl(s.thumbnailUri)} loading="lazy" alt="" width={96} height={72} /> : <span class="thumb none" />}</span>
      <a class="col col-id" href={`#/scan/${enc(s.id)}`}>
        {s.id}
      </a>
      {s.error ? (
        <span class="col row-error-message">Error: {s.errorMessage ?? 'this scan cannot be read'}</span>
      ) : (
        <>
          <span class="col col-species">{s.metadata?.species ?? ''}</span>
          <span class="col col-environment">{s.metadata?.environment ?? ''}</span>
          <span class="col col-date">{s.metadata?.date ?? ''}</span>
          <span class="col col-flags">
            {BADGES.filter(([k]) => s[k]).map(([k, label]) => (
              <span key={k} class={`badge badge-${k}`}>
                {label}
              </span>
            ))}
          </span>
        </>
      )}
    </>
  );
}
