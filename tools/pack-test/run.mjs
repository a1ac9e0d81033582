// The packed-install test (`pnpm test:packed`; .ci/run runs it after `tsc -b`): what a user of
// the published packages gets. It runs the clone's `pnpm romidb --version`, builds (tsc -b,
// incremental), packs every public package with `pnpm pack` (workspace:* becomes real versions,
// publishConfig applies), checks each packed package.json and file list, runs publint and
// @arethetypeswrong/cli on each tarball, installs the tarballs with npm into an empty temporary
// project (third-party dependencies from the npm registry or its cache), then, there: imports
// every package from its dist with plain `node` (consumer.mjs), type-checks consumer.ts against
// the shipped .d.ts (NodeNext and bundler), and runs the installed `romidb` bin (--version,
// demo, ls, check).
//
//   node tools/pack-test/run.mjs [--keep] [--no-install]
//     --keep        keep the temporary folder (its path is printed)
//     --no-install  only build, pack, check the manifests and lint (about 20 s, no network)
//
// Prints one line per check and ends with "packed-install: N checks, N failed (T s)"; exits 1
// when any check failed.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';

const { values: flags } = parseArgs({ options: { keep: { type: 'boolean' }, 'no-install': { type: 'boolean' } } });
const ROOT = new URL('../../', import.meta.url).pathname;
const HERE = new URL('./', import.meta.url).pathname;
const BIN = join(ROOT, 'node_modules', '.bin');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const started = performance.now();

// Children get neither pnpm's script variables nor NODE_OPTIONS (no source condition may leak in).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_|^NODE_OPTIONS$/i.test(k)));
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Runs a command; resolves with its exit code and output (never rejects). */
function run(command, args, { cwd = ROOT, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
  });
}

/** A command that must exit 0: returns its stdout, or throws with its output. */
async function ok(command, args, opts) {
  const r = await run(command, args, opts);
  if (r.code !== 0) throw new Error(`${[command, ...args].join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`.trim());
  return r.stdout;
}

let count = 0;
let failed = 0;
/** Runs one named check, prints ok/FAIL with its time; resolves with whether it passed. */
async function check(name, fn) {
  const t = performance.now();
  count++;
  try {
    await fn();
    console.log(`ok   ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    return true;
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}\n${String(err?.message ?? err).replace(/^/gm, '     ')}`);
    return false;
  }
}

/** Runs fn over items, at most `limit` at a time. */
async function pool(items, limit, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

const readJson = async (path) => JSON.parse(await readFile(path, 'utf8'));

/** The exports map without its `source` conditions (what the published package must hold). */
function withoutSource(value) {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'source').map(([k, v]) => [k, withoutSource(v)]));
}

/** Every file path an exports map (or a bin map) names. */
function targets(value) {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(targets);
}

/** The problems of one packed package: its manifest against the workspace's, and its file list. */
/** A package with no JavaScript entry point ("." export): built web assets, e.g. @romi/viewer. */
function isAssetPackage(manifest) {
  return !!manifest.exports && !('.' in manifest.exports);
}

function manifestProblems(ws, packed, files, versions, engines) {
  const problems = [];
  const fileSet = new Set(files);
  if (JSON.stringify(packed).includes('workspace:')) problems.push('a "workspace:" range is left in the packed package.json');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(packed[field] ?? {})) {
      if (versions.has(dep) && range !== versions.get(dep)) problems.push(`${field}.${dep} is "${range}", not the workspace's ${versions.get(dep)}`);
    }
  }
  const published = withoutSource(ws.exports);
  if (!isDeepStrictEqual(packed.exports, published)) {
    problems.push(`the packed exports are not the workspace's without "source": set "publishConfig": {"exports": ${JSON.stringify(published)}}`);
  }
  for (const target of [...targets(packed.exports), ...targets(packed.bin), packed.main, packed.types].filter(Boolean)) {
    if (!fileSet.has(target.replace(/^\.\//, ''))) problems.push(`${target} is named in package.json but not packed`);
  }
  if (packed.engines?.node !== engines) problems.push(`engines.node is ${packed.engines?.node}, not ${engines} (the root's)`);
  if (!packed.license) problems.push('no license');
  // A package of built web assets (@romi/viewer: no JavaScript entry, only its package.json and
  // the Vite build in dist/): an index.html and hashed assets, nothing else.
  if (isAssetPackage(packed)) {
    if (!fileSet.has('dist/index.html')) problems.push('dist/index.html is not packed (prepack builds it)');
    for (const file of files) if (!/^(dist\/index\.html|dist\/assets\/[^/]+|package\.json|README[^/]*\.md|LICENSE.*)$/.test(file)) problems.push(`${file} should not be packed`);
    return problems;
  }
  for (const file of files) {
    const source = file.match(/^dist\/(.*?)(\.d)?\.[jt]s(\.map)?$/);
    if (source && !fileSet.has(`src/${source[1]}.ts`)) problems.push(`${file} has no source (a stale build: remove dist/ and run tsc -b)`);
    else if (!source && !/^(src\/.*\.ts|package\.json|README[^/]*\.md|LICENSE.*)$/.test(file)) problems.push(`${file} should not be packed`);
  }
  return problems;
}

const root = await readJson(join(ROOT, 'package.json'));
const packages = [];
for (const dir of (await readdir(join(ROOT, 'packages'))).sort()) {
  const manifest = await readJson(join(ROOT, 'packages', dir, 'package.json')).catch(() => null);
  if (manifest && !manifest.private) packages.push({ dir: join(ROOT, 'packages', dir), manifest });
}
const versions = new Map(packages.map((p) => [p.manifest.name, p.manifest.version]));
const temp = await mkdtemp(join(tmpdir(), 'romidb-packed-'));
const tarballs = join(temp, 'tarballs');
const project = join(temp, 'consumer');
await mkdir(tarballs);
await mkdir(project);

try {
  // The Quick start's promise, from the sources of the clone (no build involved).
  await check('pnpm romidb --version (the workspace script)', async () => {
    const out = (await ok('pnpm', ['romidb', '--version'])).trim();
    if (out !== versions.get('@romi/cli')) throw new Error(`printed "${out}", expected ${versions.get('@romi/cli')}`);
  });
  if (!(await check('build (tsc -b)', () => ok(process.execPath, [TSC, '-b'])))) throw new Error('stop');

  await pool(packages, 2, (pkg) => check(`pack ${pkg.manifest.name}`, async () => {
    const out = JSON.parse(await ok('pnpm', ['pack', '--json', '--pack-destination', tarballs], { cwd: pkg.dir }));
    pkg.tarball = out.filename;
    const packed = JSON.parse(await ok('tar', ['-xzOf', pkg.tarball, 'package/package.json']));
    const problems = manifestProblems(pkg.manifest, packed, out.files.map((f) => f.path), versions, root.engines.node);
    if (problems.length) throw new Error(problems.join('\n'));
  }));
  const packed = packages.filter((p) => p.tarball);
  if (packed.length < packages.length) throw new Error('stop');

  // The linters are CPU-bound and npm install mostly waits on I/O: both at once.
  const lint = pool(packed, 2, async (pkg) => {
    await check(`publint ${pkg.manifest.name}`, () => ok(join(BIN, 'publint'), ['run', '--strict', pkg.tarball]));
    // ESM-only packages: the esm-only profile leaves out node10 and require() from CommonJS.
    // attw checks the types of entry points; an asset package has none.
    if (!isAssetPackage(pkg.manifest)) await check(`attw ${pkg.manifest.name}`, () => ok(join(BIN, 'attw'), [pkg.tarball, '--no-color', '--no-emoji', '--profile', 'esm-only']));
  });
  if (flags['no-install']) {
    await lint;
    throw new Error('stop');
  }

  // Peer dependencies (vitest for db-conformance) at the version the workspace itself uses.
  const peers = packed.flatMap((p) => Object.keys(p.manifest.peerDependencies ?? {}));
  const extras = ['@types/node', ...peers].map((name) => `${name}@${root.devDependencies?.[name] ?? 'latest'}`);
  await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'romidb-consumer', private: true, type: 'module' }, null, 2)}\n`);
  const npmInstall = () => ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...packed.map((p) => p.tarball), ...extras], { cwd: project });
  // One retry: the third-party packages may come from the registry, over the network.
  const installed = check(`npm install of ${packed.length} tarballs into an empty project`, () => npmInstall().catch(npmInstall));
  const [, isInstalled] = await Promise.all([lint, installed]);
  if (!isInstalled) throw new Error('stop');

  for (const file of ['consumer.mjs', 'consumer.ts']) await copyFile(join(HERE, file), join(project, file));
  const typecheck = async (resolution, module, skipLibCheck) => {
    const config = `tsconfig.${resolution}.json`;
    const compilerOptions = { module, moduleResolution: resolution, target: 'ES2022', strict: true, noEmit: true, skipLibCheck, types: ['node'] };
    await writeFile(join(project, config), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }, null, 2));
    await ok(process.execPath, [TSC, '-p', config], { cwd: project });
  };
  const romidb = join(project, 'node_modules', '.bin', 'romidb');
  const demo = join(temp, 'demo-db');
  const cliVersion = versions.get('@romi/cli');
  await Promise.all([
    // Every shipped .d.ts checked once (skipLibCheck off: that is also every dependency's, ~15 s).
    check('tsc --noEmit consumer.ts, moduleResolution NodeNext, skipLibCheck off', () => typecheck('NodeNext', 'NodeNext', false)),
    (async () => {
      await check('tsc --noEmit consumer.ts, moduleResolution bundler', () => typecheck('bundler', 'ESNext', true));
      await check('node consumer.mjs (every package from its dist)', async () => process.stdout.write(await ok('node', ['consumer.mjs', ...packed.map((p) => p.manifest.name)], { cwd: project })));
      await check('romidb --version', async () => {
        const out = (await ok(romidb, ['--version'], { cwd: project })).trim();
        if (out !== cliVersion) throw new Error(`printed "${out}", expected ${cliVersion}`);
      });
      await check('romidb demo <tmp>; romidb ls; romidb check', async () => {
        const tree = await ok(romidb, ['demo', demo], { cwd: project });
        if (!tree.includes('myscan_001') || !tree.includes('image_098.png')) throw new Error(`unexpected demo output:\n${tree}`);
        const scans = JSON.parse(await ok(romidb, ['--db', demo, 'ls', '--json'], { cwd: project }));
        if (!isDeepStrictEqual(scans, ['myscan_001'])) throw new Error(`ls --json printed ${JSON.stringify(scans)}`);
        await ok(romidb, ['--db', demo, 'check'], { cwd: project });
      });
    })(),
  ]);
} catch (err) {
  if (err?.message !== 'stop') {
    failed++;
    console.log(`FAIL ${err?.stack ?? err}`);
  }
} finally {
  if (flags.keep) console.log(`kept ${temp}`);
  else await rm(temp, { recursive: true, force: true });
}
console.log(`packed-install: ${count} checks, ${failed} failed (${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exitCode = failed ? 1 : 0;
