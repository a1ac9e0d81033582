// The dependency check of the workspace (`pnpm check:deps`, run by .ci/run): the import graph of
// packages/*, bench/, examples/ and tools/ (sources and tests, TypeScript as written, so type-only
// imports count) must hold these rules. Any violation fails the check.
//
// Type-only imports are NOT ignored in circles. dependency-cruiser does tell them apart (the
// `type-only` dependency type), but (1) a type-only circle still ties two modules together, which
// is what issue 11 asks to remove (cli/src/context.ts <-> output.ts was one); (2) its circle
// finder reports one path per dependency, so a rule that skips circles through a type-only edge
// could also hide a runtime circle behind it; (3) an import of a value and of a type from the
// same module is merged into one dependency that carries both types.

/** The files other packages may import: the package entry points (package.json `exports`) and the CLI's bin. */
const ENTRY_POINTS = ['^packages/[^/]+/src/index\\.ts$', '^packages/db-core/src/node\\.ts$', '^packages/cli/src/bin\\.ts$'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle (type-only imports included, see the top of this file).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-cross-package-internals',
      severity: 'error',
      comment:
        "Another package's src/ or test/ files are internals: import the package by its name and entry point " +
        '(@romi/db-core, @romi/db-core/node, ...). Shared test helpers live in @romi/test-utils.',
      from: { path: '^(packages/[^/]+|bench|examples|tools)/' },
      to: { path: '^packages/[^/]+/(src|test)/', pathNot: ['^$1/', ...ENTRY_POINTS] },
    },
    {
      name: 'no-relative-cross-package',
      severity: 'error',
      comment: 'A package reaches another one by its package name (@romi/...), never by a relative path.',
      from: { path: '^packages/([^/]+)/' },
      to: { dependencyTypes: ['local'], path: '^packages/', pathNot: '^packages/$1/' },
    },
    {
      name: 'db-core-is-node-free',
      severity: 'error',
      comment:
        '@romi/db-core runs in a browser: its sources import only each other and lossless-json (no node: module, ' +
        'no other package). Only the Node entry, src/node.ts (@romi/db-core/node), may use Node, and no core file imports it.',
      from: { path: '^packages/db-core/src/', pathNot: '^packages/db-core/src/node\\.ts$' },
      to: { pathNot: ['^packages/db-core/src/(?!node\\.ts$)', '(^|/)node_modules/lossless-json/'] },
    },
    {
      name: 'server-is-an-application',
      severity: 'error',
      comment:
        '@romi/server (Fastify, plantdb\'s REST API) sits on top: the CLI, bench/ and tools/ may import it, the ' +
        'storage, codec and test packages never do (they would pull a web framework into every user of romidb). ' +
        "The viewer's tests may: they drive the viewer as the server serves it.",
      from: { path: '^packages/(?!server/|cli/)[^/]+/', pathNot: '^packages/viewer/test/' },
      to: { path: '^packages/server/' },
    },
    {
      name: 'server-below-the-cli',
      severity: 'error',
      comment: '@romi/server is a library the CLI uses (romidb serve): it never imports @romi/cli.',
      from: { path: '^packages/server/' },
      to: { path: '^packages/cli/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve (a typo, or a package missing from package.json) would hide from the rules above.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    // dist/ is built output; tools/pack-test/consumer.* are compiled in the packed-install test's own
    // temporary project, where all the packages are installed.
    exclude: { path: ['(^|/)(dist|node_modules)/', '^tools/pack-test/consumer\\.'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // `source` first, as the tests and tsx do: a workspace package resolves to its src/ entry.
      conditionNames: ['source', 'import', 'types', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
