/**
 * Results go to stdout, either as text for people or (with --json) as one JSON document for
 * scripts. Warnings go to stderr so that they never break a JSON reader.
 */
export interface CliStream {
  write(chunk: string | Uint8Array): boolean;
  once(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  /** Environment (ROMIDB, AWS_*); defaults to process.env. */
  env: Record<string, string | undefined>;
  /** Aborts long commands (SIGINT in the binary). */
  signal?: AbortSignal;
}

/** Writes and waits when the stream asks us to (large `cat` outputs, slow pipes). */
export async function writeChunk(stream: CliStream, chunk: string | Uint8Array): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

export class Output {
  constructor(
    readonly io: CliIO,
    readonly json: boolean,
  ) {}

  /** Prints `value` as JSON with --json, else the lines `human()` returns. */
  result(value: unknown, human: () => string | string[]): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const text = human();
    const lines = Array.isArray(text) ? text : [text];
    if (lines.length > 0) this.io.stdout.write(`${lines.join('\n')}\n`);
  }

  warn(message: string): void {
    this.io.stderr.write(`romidb: warning: ${message}\n`);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
