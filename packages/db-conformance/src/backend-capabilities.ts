/** What a backend says of itself: its url and capabilities, checked against what it does. */
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { bytes, k, type BackendHarness } from './backend-harness.js';

export function describeCapabilities(h: BackendHarness): void {
  describe('capabilities', () => {
    h.it('are well-formed, and url is a URL', () => {
      const b = h.backend();
      expect(['global', 'process']).toContain(b.capabilities.conditionalWrites);
      expect(['host', 'global']).toContain(b.capabilities.lockScope);
      expect(typeof b.capabilities.localPaths).toBe('boolean');
      expect(typeof b.capabilities.fsync).toBe('boolean');
      expect(() => new URL(b.url)).not.toThrow();
    });

    h.it('localPath gives a real path holding the bytes of a key exactly when capabilities.localPaths', async () => {
      const b = h.backend();
      await b.put(k('scan/x.bin'), bytes('local bytes'));
      const path = b.localPath?.(k('scan/x.bin'));
      if (!b.capabilities.localPaths) {
        expect(path).toBeUndefined();
        return;
      }
      expect(typeof path).toBe('string');
      expect(new TextDecoder().decode(readFileSync(path!))).toBe('local bytes');
    });
  });
}
