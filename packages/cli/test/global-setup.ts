// Builds the workspace (tsc -b, incremental) so that packages/cli/dist/bin.js and the dist of
// every package it loads are up to date before the tests spawn the binary.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', root], { cwd: root, stdio: 'inherit' });
}
