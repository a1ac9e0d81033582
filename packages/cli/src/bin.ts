#!/usr/bin/env node
import { main } from './main.js';

// First Ctrl-C (or SIGTERM): abort the running command cleanly (imports remove what they
// started, serve finishes the requests under way); a second one exits at once.
const controller = new AbortController();
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(code);
    controller.abort(new Error('interrupted'));
  });
}
// A closed pipe (`romidb cat … | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
// Node exits when nothing is left to wait for, even if a command never finished (a stream
// that will never call back): that must never look like a success.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  const message = 'internal error: the command stopped before it finished; nothing it did is confirmed (run "romidb check")';
  process.stderr.write(process.argv.includes('--json') ? `${JSON.stringify({ error: { code: 'ERROR', message } })}\n` : `romidb: ${message}\n`);
  process.exit(1);
});

process.exitCode = await main(process.argv, { signal: controller.signal });
finished = true;
