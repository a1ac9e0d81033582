#!/usr/bin/env node
import { main } from './main.js';

// First Ctrl-C: abort the running command cleanly (imports remove what they started);
// a second one exits at once.
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
});
// A closed pipe (`romidb cat … | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv, { signal: controller.signal });
