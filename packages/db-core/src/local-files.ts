/**
 * How `File.importFile` reads a file of the local file system. The core itself uses no Node
 * module: the Node entry (`@romi/db-core/node`, which the fsdb, memdb and s3db packages load)
 * installs a reader; elsewhere (a browser) importFile is ROMI_NOT_SUPPORTED.
 */
import { NotSupportedError } from './errors.js';

export interface LocalFile {
  /** The extension of its name, without the dot ('' when none). */
  ext: string;
  /** Its bytes, read when iterated. */
  read(): AsyncIterable<Uint8Array>;
}

export interface LocalFiles {
  /** A regular file at `path`; InvalidArgumentError naming it when it is missing or not a file. */
  open(path: string): Promise<LocalFile>;
}

let installed: LocalFiles | undefined;

export function setLocalFiles(files: LocalFiles): void {
  installed = files;
}

export function localFiles(): LocalFiles {
  if (!installed) throw new NotSupportedError('importFile() reads the local file system: import "@romi/db-core/node" first (the fsdb, memdb and s3db packages do)');
  return installed;
}
