// Runs a TypeScript script of test/procs/ in a real Node process, on the workspace sources
// (adapted from packages/fsdb/test/spawn.ts: an env for the child, and line-by-line reading).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGISTER = `${ROOT}tools/ts-register.mjs`;

export type Proc = ChildProcess & {
  lines: string[];
  stderrText(): string;
  /** The first line (from the start) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The next line not yet returned by next() (whatever it is). */
  next(timeoutMs?: number): Promise<string>;
  send(line: string): void;
  exited: Promise<number | null>;
};

export function spawnProc(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['--conditions=source', '--import', REGISTER, fileURLToPath(new URL(`procs/${script}`, import.meta.url)), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
  });
  const lines: string[] = [];
  let cursor = 0;
  const listeners = new Set<() => void>();
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    for (const l of [...listeners]) l();
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      for (const l of [...listeners]) l();
      resolve(code);
    }),
  );
  const wait = (find: () => string | undefined, what: string, timeoutMs: number): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (exitCode !== undefined) {
          done();
          reject(new Error(`${script} exited (${exitCode}) before ${what}; stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what} from ${script}; stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return Object.assign(child, {
    lines,
    exited,
    stderrText: () => stderr,
    waitFor: (pattern: RegExp, timeoutMs = 30_000) => wait(() => lines.find((l) => pattern.test(l)), String(pattern), timeoutMs),
    next: (timeoutMs = 30_000) =>
      wait(() => (cursor < lines.length ? lines[cursor++] : undefined), 'the next line', timeoutMs),
    send: (line: string) => {
      child.stdin!.write(`${line}\n`);
    },
  });
}
