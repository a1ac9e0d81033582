// The browser check of @romi/db-core (`pnpm check:browser`, run by .ci/run after `tsc -b`):
// esbuild bundles the package's main entry for `platform: 'browser'`, the way a web app would
// import it, and the check fails if the bundle needs any Node built-in (`node:*`, or a bare
// `fs`, `path`, `crypto`, ...), naming the file that imports it. Two bundles: the built dist/
// (what the published package ships) and the TypeScript sources (the `source` condition).
// `@romi/db-core/node` is the package's Node entry and is not part of this check.
import { builtinModules } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = '@romi/db-core';
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]]));
const isBuiltin = (path) => path.startsWith('node:') || BUILTINS.has(path) || BUILTINS.has(path.split('/')[0]);

/** Bundles `@romi/db-core` with the given export conditions; returns the Node built-ins it imports. */
async function bundle(conditions) {
  const found = [];
  const result = await build({
    stdin: { contents: `export * from '${PKG}';`, resolveDir: ROOT, sourcefile: 'browser-entry.js' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    conditions,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'node-builtins',
        setup(b) {
          // Every import is seen here before esbuild resolves it: a built-in is recorded with its
          // importer and left external, so that one run lists them all.
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point' || !isBuiltin(args.path)) return undefined;
            found.push({ builtin: args.path, importer: args.importer.startsWith(ROOT) ? args.importer.slice(ROOT.length) : args.importer });
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const bytes = result.outputFiles.reduce((n, f) => n + f.contents.length, 0);
  const inputs = Object.keys(result.metafile.inputs).filter((p) => p !== 'browser-entry.js');
  return { found, bytes, inputs };
}

let failed = false;
for (const [label, conditions] of [
  ['dist (published)', []],
  ['src (source condition)', ['source']],
]) {
  if (conditions.length === 0 && !existsSync(new URL('../packages/db-core/dist/index.js', import.meta.url))) {
    console.error(`check-browser-bundle: packages/db-core/dist is not built; run \`pnpm exec tsc -b\` first`);
    process.exit(2);
  }
  let report;
  try {
    report = await bundle(conditions);
  } catch (err) {
    failed = true;
    console.error(`✗ ${PKG} ${label}: esbuild failed for the browser platform`);
    for (const e of err.errors ?? [err]) console.error(`  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text ?? e.message}`);
    continue;
  }
  const { found, bytes, inputs } = report;
  const files = inputs.length;
  if (found.length > 0) {
    failed = true;
    console.error(`✗ ${PKG} ${label}: the browser bundle imports Node built-ins:`);
    for (const f of found) console.error(`  ${f.importer} imports "${f.builtin}"`);
  } else {
    console.log(`✓ ${PKG} ${label}: bundles for the browser with no Node built-in (${files} modules, ${(bytes / 1024).toFixed(0)} KiB)`);
  }
}
process.exit(failed ? 1 : 0);
