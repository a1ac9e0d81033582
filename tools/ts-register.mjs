// Lets plain `node` run the workspace's TypeScript sources without a build:
// used by child processes in tests (crash, lock) and by `pnpm demo` / `pnpm bench`.
// Run with `node --conditions=source --import ./tools/ts-register.mjs file.ts`.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
