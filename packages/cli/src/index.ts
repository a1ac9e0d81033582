// @romi/cli: the `romidb` command. main() runs a command line in-process (tests, embedding);
// the archive functions are the tar.gz export/import the command uses.
export { main, VERSION } from './main.js';
export { Context, UsageError, type CliIO, type CliStream, type GlobalOptions } from './context.js';
export { exportArchive, importArchive, type ArchiveOptions, type ExportResult, type ImportResult } from './archive.js';
export { runDemo, type LineWriter } from './commands/demo.js';
