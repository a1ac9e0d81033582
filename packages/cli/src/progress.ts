/**
 * Progress bars on stderr, only when stderr is a terminal: pipes, files and CI logs get
 * nothing, so that scripts see clean output.
 */
import cliProgress from 'cli-progress';
import type { CliIO } from './context.js';
import { formatBytes } from './output.js';

export interface Progress {
  update(loaded: number, total?: number, label?: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export function startProgress(io: CliIO, title: string, opts: { total?: number; bytes?: boolean } = {}): Progress {
  if (!io.stderr.isTTY) return silent;
  const show = (n: number) => (opts.bytes ? formatBytes(n) : String(n));
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as unknown as NodeJS.WritableStream,
      format: `${title} [{bar}] {percentage}% {done}/{all} {label}`,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  let total = opts.total ?? 0;
  bar.start(total, 0, { done: show(0), all: show(total), label: '' });
  return {
    update(loaded, newTotal, label = '') {
      if (newTotal !== undefined && newTotal !== total) {
        total = newTotal;
        bar.setTotal(total);
      }
      bar.update(loaded, { done: show(loaded), all: show(total), label: label.length > 40 ? `…${label.slice(-39)}` : label });
    },
    stop() {
      bar.stop();
    },
  };
}
