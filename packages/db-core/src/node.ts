/**
 * The Node entry of @romi/db-core (`@romi/db-core/node`): what the core needs of Node and
 * cannot hold itself, kept out of it so that the core runs in a browser. Importing it installs
 * the local file reader of File.importFile.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { InvalidArgumentError } from './errors.js';
import { setLocalFiles, type LocalFiles } from './local-files.js';

/** Local files read with node:fs (installed as File.importFile's reader when this module loads). */
export const nodeLocalFiles: LocalFiles = {
  async open(path) {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      throw new InvalidArgumentError(`Cannot import "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!info.isFile()) throw new InvalidArgumentError(`Cannot import "${path}": not a regular file`);
    return { ext: extname(path).slice(1), read: () => createReadStream(path) };
  },
};

setLocalFiles(nodeLocalFiles);
