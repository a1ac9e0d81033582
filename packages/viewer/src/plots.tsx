/** The measures of /sequence/<scan> (angles, internodes) as uPlot charts: a lazy chunk. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { enc, type Sequence } from './api';
import { useJSON } from './hooks';

function Chart({ title, unit, series }: { title: string; unit: string; series: Array<[string, number[], string]> }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const n = Math.max(...series.map(([, v]) => v.length));
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const data: uPlot.AlignedData = [xs, ...series.map(([, v]) => xs.map((_, i) => v[i] ?? null))];
    const width = Math.max(280, Math.min(560, box.current!.clientWidth || 480));
    const plot = new uPlot(
      {
        title,
        width,
        height: 240,
        scales: { x: { time: false } },
        axes: [{ label: 'organ' }, { label: unit }],
        series: [{ label: 'organ' }, ...series.map(([label, , stroke]) => ({ label, stroke, width: 2, points: { show: true } }))],
      },
      data,
      box.current!,
    );
    return () => plot.destroy();
  }, [series]);
  return <div class="plot" ref={box} data-plot={title} />;
}

/**
 * `/sequence/<scan>` when the scan has an AnglesAndInternodes task (its measures, and the manual
 * ones); else, for manual measures alone (which /sequence does not answer without the task), the
 * scan's measures.json through `/files`.
 */
export function Plots({ scanId, automated }: { scanId: string; automated: boolean }) {
  const seq = useJSON<Sequence>(automated ? `/sequence/${enc(scanId)}` : `/files/${enc(scanId)}/measures.json`);
  if (seq?.state === 'loading') return <p role="status">Loading…</p>;
  if (seq?.state === 'error') return <p class="error">{seq.error}</p>;
  if (seq?.state !== 'ok') return null;
  const deg = (v: number[] | undefined) => (v ?? []).map((a) => (a * 180) / Math.PI);
  const s: Sequence = automated ? seq.data : { manual_angles: seq.data.angles, manual_internodes: seq.data.internodes };
  // Both in radians (plantdb's), shown in degrees.
  const angles: Array<[string, number[], string]> = [];
  if (s.angles?.length) angles.push(['angles', deg(s.angles), '#2a7']);
  if (s.manual_angles?.length) angles.push(['manual angles', deg(s.manual_angles), '#c50']);
  const internodes: Array<[string, number[], string]> = [];
  if (s.internodes?.length) internodes.push(['internodes', s.internodes, '#27c']);
  if (s.manual_internodes?.length) internodes.push(['manual internodes', s.manual_internodes, '#c50']);
  if (!angles.length && !internodes.length) return <p>No measures.</p>;
  return (
    <div class="plots">
      {angles.length ? <Chart title="Angles" unit="degrees" series={angles} /> : null}
      {internodes.length ? <Chart title="Internodes" unit="mm" series={internodes} /> : null}
    </div>
  );
}
