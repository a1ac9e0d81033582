// The seed example (`pnpm demo [folder]`, default ./demo-db): see packages/cli/src/commands/demo.ts.
import { runDemo } from '@romi/cli';
await runDemo(process.argv[2] ?? 'demo-db', console.log);
