// Module hooks: `./x.js` imports fall back to `./x.ts`, and a `.ts` file is served from its
// pre-transpiled copy "<dir><absolute path>.js". No TypeScript compiler in this process.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

let dir;

export function initialize(data) {
  dir = data?.dir;
  if (!dir) throw new Error('ROMI_PRECOMPILED_DIR is not set');
}

const relative = (s) => s.startsWith('.') || s.startsWith('/') || s.startsWith('file:');

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (relative(specifier) && specifier.endsWith('.js')) return next(`${specifier.slice(0, -3)}.ts`, context);
    throw err;
  }
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts') || url.includes('/node_modules/')) return next(url, context);
  const source = await readFile(`${dir}${fileURLToPath(url)}.js`, 'utf8');
  return { format: 'module', source, shortCircuit: true };
}
