import { describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, keys, toKey } from '../src/index.js';

describe('keys', () => {
  it('toKey refuses what could leave the root or is not one relative path', () => {
    for (const path of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/./b', 'a\\b', 'a\0b', '', '/']) {
      let error: unknown;
      try {
        toKey(path);
      } catch (err) {
        error = err;
      }
      expect(isRomiError(error, ErrorCodes.INVALID_KEY), JSON.stringify(path)).toBe(true);
    }
    for (const path of ['romidb', 'scan/files.json', 'scan/fileset/', 'a b/é.png', 'scan/.romidb-pending']) expect(toKey(path)).toBe(path);
  });

  it('the layout makes every key through toKey: names from storage cannot lead out', () => {
    expect(keys.fileData('s', 'fs', 'f.png')).toBe('s/fs/f.png');
    expect(() => keys.fileData('s', 'fs', '../../x')).toThrow(/Invalid storage key/);
    expect(() => keys.filesetFolder('s', '..')).toThrow(/Invalid storage key/);
    expect(() => keys.fileMetadata('s', 'fs', 'a/../../b')).toThrow(/Invalid storage key/);
  });
});
