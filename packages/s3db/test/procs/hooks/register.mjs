// `node --conditions=source --import <this>` with ROMI_PRECOMPILED_DIR set (see test/precompile.ts):
// runs the workspace's TypeScript sources from their pre-transpiled copies.
import { register } from 'node:module';

register('./load-precompiled.mjs', import.meta.url, { data: { dir: process.env.ROMI_PRECOMPILED_DIR } });
