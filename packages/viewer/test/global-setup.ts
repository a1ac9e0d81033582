// The browser tests drive the built viewer: build dist/ when it is missing or older than a source
// (CI builds it first, so there it is reused).
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function newestSource(): number {
  const files = ['index.html', 'vite.config.ts', 'package.json', ...readdirSync(`${ROOT}src`).map((f) => `src/${f}`)];
  return Math.max(...files.map((f) => mtime(`${ROOT}${f}`)));
}

export default function setup(): void {
  const built = mtime(`${ROOT}dist/index.html`);
  if (built && built >= newestSource()) return;
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/vite/bin/vite.js', import.meta.url)), 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}
