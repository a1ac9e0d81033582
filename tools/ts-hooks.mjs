// Module hooks: map `./x.js` imports to `./x.ts` when only the source exists, and strip
// TypeScript with the compiler's transpileModule (no type checking). Output is cached on
// disk by content hash, so the compiler is only loaded when a file changed.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CACHE = fileURLToPath(new URL('../node_modules/.cache/romidb-ts/', import.meta.url));
let ts;

const relative = (s) => s.startsWith('.') || s.startsWith('/') || s.startsWith('file:');

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (relative(specifier) && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw err;
  }
}

async function transpile(path, source) {
  const key = createHash('sha1').update(path).update('\0').update(source).digest('hex');
  const cached = `${CACHE}${key}.mjs`;
  try {
    return await readFile(cached, 'utf8');
  } catch {
    // not cached yet
  }
  ts ??= (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    fileName: path,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
      inlineSourceMap: true,
    },
  }).outputText;
  await mkdir(CACHE, { recursive: true });
  const temp = `${cached}.${process.pid}.tmp`;
  await writeFile(temp, out);
  await rename(temp, cached);
  return out;
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts') || url.includes('/node_modules/')) return next(url, context);
  const path = fileURLToPath(url);
  return { format: 'module', source: await transpile(path, await readFile(path, 'utf8')), shortCircuit: true };
}
