/**
 * Parses one files.json the way `ls` reads it (ScanIndex.parse, from bytes) or with JSON.parse
 * alone (from text decoded beforehand), and prints the time (wall and CPU) and memory it took as JSON.
 * Run by large-index.test.ts, one process per measurement: `parse-index.ts <mode> <path>`.
 */
import { readFileSync } from 'node:fs';
import { ScanIndex } from '../../src/layout.js';

const [mode, path] = process.argv.slice(2) as ['JSON.parse' | 'ScanIndex.parse', string];
const bytes = readFileSync(path);
const text = mode === 'JSON.parse' ? new TextDecoder().decode(bytes) : '';
const gc = (globalThis as { gc?: () => void }).gc!;

gc();
const rssBefore = process.memoryUsage().rss;
const heapBefore = process.memoryUsage().heapUsed;
const cpuBefore = process.cpuUsage();
const start = performance.now();
const parsed: unknown = mode === 'JSON.parse' ? JSON.parse(text) : ScanIndex.parse(bytes, 'scan/files.json');
const ms = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
// maxRSS (KiB) is the peak of the whole process: its growth is the peak during the parse.
const peakMB = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
gc();
const heapMB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

let files = 0;
let kept: string | undefined;
if (parsed instanceof ScanIndex) {
  for (const fs of parsed.filesets) files += fs.files.length;
  kept = (parsed.file('fs_9', '0900000') as { x?: { value?: string } } | undefined)?.x?.value;
} else {
  for (const fs of (parsed as { filesets: Array<{ files: unknown[] }> }).filesets) files += fs.files.length;
}
console.log(JSON.stringify({ mode, ms, cpuMs, peakMB, heapMB, files, kept }));
