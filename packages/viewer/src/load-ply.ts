import type { PlyData } from './ply';

let worker: Worker | undefined;
let next = 0;
const pending = new Map<number, { resolve: (d: PlyData) => void; reject: (e: Error) => void }>();

/** Fetches and parses a PLY in the Web Worker. */
export function loadPly(url: string): Promise<PlyData> {
  if (!worker) {
    worker = new Worker(new URL('./ply-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<{ id: number; data?: PlyData; error?: string }>) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (e.data.error !== undefined) p?.reject(new Error(e.data.error));
      else p?.resolve(e.data.data!);
    };
  }
  const id = next++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker!.postMessage({ id, url });
  });
}
