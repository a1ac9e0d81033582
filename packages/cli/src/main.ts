/**
 * The `romidb` program: global options, the commands, and the one place where errors become
 * exit codes (0 ok, 1 failure, 2 usage) and a single line on stderr.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { isRomiError } from '@romi/db-core';
import { Context, UsageError, type CliIO, type GlobalOptions } from './context.js';
import { registerInit } from './commands/init.js';
import { registerBrowse } from './commands/browse.js';
import { registerMeta } from './commands/meta.js';
import { registerImport } from './commands/import.js';
import { registerExport } from './commands/export.js';
import { registerCheck } from './commands/check.js';
import { registerMirror } from './commands/mirror.js';
import { registerDemo } from './commands/demo.js';
import { registerServe } from './commands/serve.js';
import { registerUser } from './commands/user.js';

/** The version of @romi/cli (package.json is one level above both src/ and dist/). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Runs the command line `argv` (as in process.argv: node, script, args…) and returns the exit code. */
export async function main(argv: readonly string[], partialIo: Partial<CliIO> = {}): Promise<number> {
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, ...partialIo };
  const program = new Command('romidb');
  const ctx = new Context(io, () => program.opts<GlobalOptions>());
  program
    .description('Browse, import, export, check and mirror ROMI plant-scan databases (FSDB layout).')
    .version(VERSION)
    .option('--db <location>', 'database: a folder path or a file:, s3: or memory: URL (default: $ROMIDB)')
    .option('--json', 'print results as JSON (for scripts)')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(`romidb: ${s.replace(/^error: /, '')}`),
    });
  // Subcommands inherit exitOverride and the output settings, so they are added afterwards.
  registerInit(program, ctx);
  registerBrowse(program, ctx);
  registerMeta(program, ctx);
  registerImport(program, ctx);
  registerExport(program, ctx);
  registerCheck(program, ctx);
  registerMirror(program, ctx);
  registerDemo(program, ctx);
  registerServe(program, ctx);
  registerUser(program, ctx);

  try {
    await program.parseAsync(argv as string[], { from: 'node' });
    return ctx.exitCode;
  } catch (err) {
    const debug = !!program.opts<GlobalOptions>().debug || argv.includes('--debug');
    return report(err, io, debug, !!program.opts<GlobalOptions>().json);
  } finally {
    await ctx.closeAll();
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function report(err: unknown, io: CliIO, debug: boolean, json: boolean): number {
  // Commander has already printed its own message (usage errors) or the help/version text.
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  const usage = err instanceof UsageError;
  const message = isRomiError(err, 'ROMI_ABORTED') ? 'interrupted' : oneLine(err instanceof Error ? err.message : String(err));
  if (json) {
    const code = usage ? 'USAGE' : isRomiError(err) ? err.code : 'ERROR';
    io.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  } else {
    io.stderr.write(`romidb: ${message}\n`);
  }
  if (debug && err instanceof Error) io.stderr.write(`${stackOf(err)}\n`);
  return usage ? 2 : 1;
}

function stackOf(err: Error): string {
  let text = err.stack ?? String(err);
  let cause = err.cause;
  while (cause instanceof Error) {
    text += `\nCaused by: ${cause.stack ?? cause.message}`;
    cause = cause.cause;
  }
  return text;
}
