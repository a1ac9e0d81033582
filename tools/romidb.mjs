// `pnpm romidb …`: the romidb command run from the TypeScript sources (no build needed), in the
// folder pnpm was called from (pnpm runs root scripts in the workspace root and passes the
// caller's folder as INIT_CWD), so relative paths such as `--db ./mydb` mean what they say.
// Run with `node --conditions=source --import ./tools/ts-register.mjs tools/romidb.mjs`.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import('../packages/cli/src/bin.ts');
