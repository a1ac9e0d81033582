/**
 * A files.json of 1.8 M entries with one float among them (which must keep its text "276.0")
 * is parsed within 3× the time and memory of JSON.parse on the same text. Each measurement
 * runs in a fresh process; the best of two rounds is kept, and time is CPU time (wall time is
 * printed too), since other work may share the machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ENTRIES = 1_800_000;
const PER_FILESET = 100_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROC = fileURLToPath(new URL('procs/parse-index.ts', import.meta.url));

interface Measure {
  mode: string;
  ms: number;
  cpuMs: number;
  peakMB: number;
  heapMB: number;
  files: number;
  kept?: string;
}

/** files.json as Python writes it: filesets of PER_FILESET entries, one float in the middle. */
function indexText(): string {
  const parts: string[] = ['{\n    "filesets": ['];
  for (let n = 0, f = 0; n < ENTRIES; f++) {
    parts.push(`${f === 0 ? '' : ','}\n        {\n            "files": [`);
    for (let i = 0; i < PER_FILESET; i++, n++) {
      const id = String(n).padStart(7, '0');
      const extra = n === ENTRIES / 2 ? ',\n                    "x": 276.0' : '';
      parts.push(`${i === 0 ? '' : ','}\n                {\n                    "file": "${id}.png",\n                    "id": "${id}"${extra}\n                }`);
    }
    parts.push(`\n            ],\n            "id": "fs_${f}"\n        }`);
  }
  parts.push('\n    ]\n}');
  return parts.join('');
}

function measure(mode: string, path: string): Measure {
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--conditions=source', '--import', `${ROOT}tools/ts-register.mjs`, PROC, mode, path], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Measure;
}

describe('a files.json of 1.8 M entries', () => {
  const dir = mkdtempSync(`${tmpdir()}/romidb-large-index-`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses within 3× the time and memory of JSON.parse, keeping the one float as written', { timeout: 600_000 }, () => {
    const path = `${dir}/files.json`;
    writeFileSync(path, indexText());
    const best = (mode: string, runs: Measure[]): Measure => {
      const mine = runs.filter((r) => r.mode === mode);
      const least = (field: 'ms' | 'cpuMs' | 'peakMB' | 'heapMB'): number => Math.min(...mine.map((r) => r[field]));
      return { ...mine[0]!, ms: least('ms'), cpuMs: least('cpuMs'), peakMB: least('peakMB'), heapMB: least('heapMB') };
    };
    const runs: Measure[] = [];
    for (let round = 0; round < 2; round++) runs.push(measure('JSON.parse', path), measure('ScanIndex.parse', path));
    const base = best('JSON.parse', runs);
    const ours = best('ScanIndex.parse', runs);
    const ratios = { cpu: ours.cpuMs / base.cpuMs, wall: ours.ms / base.ms, peak: ours.peakMB / base.peakMB, heap: ours.heapMB / base.heapMB };
    const describe = (m: Measure): string =>
      `${m.mode} ${m.cpuMs.toFixed(0)} ms CPU (${m.ms.toFixed(0)} ms wall), peak +${m.peakMB.toFixed(0)} MiB, heap +${m.heapMB.toFixed(0)} MiB`;
    const shown = Object.entries(ratios).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    console.log(`1.8 M entries: ${describe(base)}; ${describe(ours)}; ratios ${shown}`);
    expect(base.files).toBe(ENTRIES);
    expect(ours.files).toBe(ENTRIES);
    expect(ours.kept).toBe('276.0');
    expect(ratios.cpu).toBeLessThanOrEqual(3);
    expect(ratios.peak).toBeLessThanOrEqual(3);
    expect(ratios.heap).toBeLessThanOrEqual(3);
  });
});
