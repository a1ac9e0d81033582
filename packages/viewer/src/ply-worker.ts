/// <reference lib="webworker" />
// Fetches and parses a PLY off the main thread; answers the typed arrays, transferred.
import { parsePly } from './ply';

self.onmessage = async (e: MessageEvent<{ url: string; id: number }>) => {
  const { url, id } = e.data;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${res.status} ${res.statusText} for ${url}`);
    const data = parsePly(await res.arrayBuffer());
    const transfer = [data.positions.buffer, data.normals?.buffer, data.colors?.buffer, data.indices?.buffer].filter((b): b is ArrayBuffer => !!b);
    (self as unknown as DedicatedWorkerGlobalScope).postMessage({ id, data }, transfer);
  } catch (err) {
    (self as unknown as DedicatedWorkerGlobalScope).postMessage({ id, error: (err as Error).message });
  }
};
