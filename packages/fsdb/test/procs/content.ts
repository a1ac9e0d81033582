/** Deterministic bytes for a file id, so a test can check them after the writer died. */
export function contentOf(id: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0;
  for (let i = 0; i < id.length; i++) x = (x * 31 + id.charCodeAt(i)) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
