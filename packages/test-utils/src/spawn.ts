// Runs a TypeScript script in a real Node process, on the workspace sources, and reads what it
// prints line by line: for tests of crashes, locks across processes and memory bounds.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGISTER = `${ROOT}tools/ts-register.mjs`;

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /**
   * Modules the child loads first (`--import`), e.g. the backend package that registers the URL
   * scheme a shared script opens. Resolved from the repository root, whose package depends on them.
   */
  imports?: string[];
}

export type Proc = ChildProcess & {
  /** Every line printed so far. */
  lines: string[];
  stderrText(): string;
  /** The first line (from the start) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The next line not yet returned by next() (whatever it is). */
  next(timeoutMs?: number): Promise<string>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  exited: Promise<number | null>;
};

/** Starts `script` (a path or file URL) with `args`. */
export function spawnProc(script: string | URL, args: string[], opts: SpawnOptions = {}): Proc {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const imports = (opts.imports ?? []).flatMap((m) => ['--import', m]);
  const child = spawn(process.execPath, ['--conditions=source', '--import', REGISTER, ...imports, path, ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...opts.env,
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
      const tail = (): string => `stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-2000)}`;
      const check = (): void => {
        const found = find();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (exitCode !== undefined) {
          done();
          reject(new Error(`${name} exited (${exitCode}) before ${what}; ${tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what} from ${name}; ${tail()}`));
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
    next: (timeoutMs = 30_000) => wait(() => (cursor < lines.length ? lines[cursor++] : undefined), 'the next line', timeoutMs),
    send: (line: string) => {
      child.stdin!.write(`${line}\n`);
    },
  });
}
