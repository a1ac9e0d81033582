import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGISTER = `${ROOT}tools/ts-register.mjs`;

/** Starts a TypeScript script of test/procs/ in a real Node process, on the workspace sources. */
export function spawnProc(script: string, args: string[]): ChildProcess & { lines: string[]; waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', REGISTER, fileURLToPath(new URL(`procs/${script}`, import.meta.url)), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return Object.assign(child, {
    lines,
    exited,
    waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} from ${script}; stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${script} exited (${code}) before printing ${pattern}; stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-2000)}`));
        });
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  });
}
