// Transpiles the TypeScript sources a child process needs (db-core, s3db, test/procs) into a
// temp folder, so that the child can run them through test/procs/hooks/register.mjs without
// loading the TypeScript compiler (≈ 75 MB of RSS that would blur a memory measurement).
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FOLDERS = ['packages/db-core/src', 'packages/s3db/src', 'packages/s3db/test/procs'];

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Returns the folder holding "<absolute source path>.js" for every source. */
export async function precompile(): Promise<string> {
  const outDir = join(tmpdir(), `romi-s3db-precompiled-${process.pid}-${Date.now().toString(36)}`);
  for (const folder of FOLDERS) {
    for (const file of await tsFiles(join(ROOT, folder))) {
      const out = ts.transpileModule(await readFile(file, 'utf8'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
      });
      const target = join(outDir, `${file}.js`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, out.outputText);
    }
  }
  return outDir;
}

export const PRECOMPILED_REGISTER = fileURLToPath(new URL('procs/hooks/register.mjs', import.meta.url));
