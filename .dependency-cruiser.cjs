/**
 * Import rules for Piazza, checked by `npm run lint:imports` (and so by `npm test`).
 *
 * The product is devices, broker, ingest, feed, platform, dashboard, simulator and cli. devices/
 * is the base everything builds on; broker/, ingest/ and feed/ build on devices/ alone; platform/
 * composes the parts. Test helpers (testkit/, test/) and the benchmark (bench/) sit outside the
 * product: they may import it, it never imports them, nor a devDependency.
 *
 * Paths are relative to the repository root, where the command runs.
 */

/** Folders of the product, as a regular-expression alternation. */
const PRODUCT = '(devices|broker|ingest|feed|platform|dashboard|simulator|cli)'
/** Every top-level folder of the project. */
const PROJECT = '(devices|broker|ingest|feed|platform|dashboard|simulator|cli|bench|testkit|test)'
const TEST_FILE = '\\.test\\.tsx?$'
/** Product files that run only at build time or from a checkout, never in the installed package. */
const BUILD_TIME = ['^dashboard/(app|public-app|i18n)/', '^dashboard/vite[^/]*\\.config\\.ts$', '^dashboard/build\\.ts$', '^cli/piazza\\.mjs$']

/**
 * Rules forbidding folder `from` to import any project folder except itself and `allowed`; its
 * tests (*.test.ts beside the code) may also use the shared test helpers in testkit/.
 */
function onlyImports(name, from, allowed, comment) {
  const rule = (suffix, fromPath, also) => ({
    name: `${name}${suffix}`,
    severity: 'error',
    comment,
    from: fromPath,
    to: { path: `^${PROJECT}/`, pathNot: `^(${[from, ...allowed, ...also].join('|')})/` },
  })
  return [rule('', { path: `^${from}/`, pathNot: TEST_FILE }, []), rule('-in-tests', { path: `^${from}/.*${TEST_FILE}` }, ['testkit'])]
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...onlyImports('devices-is-the-base', 'devices', [], 'devices/ (schemas, kinds, registry) is the base of the project: it imports no other part.'),
    ...onlyImports('broker-builds-on-devices', 'broker', ['devices'], 'broker/ imports only devices/ among the parts; platform/ wires it to the rest.'),
    ...onlyImports('ingest-builds-on-devices', 'ingest', ['devices'], 'ingest/ imports only devices/ among the parts; platform/ wires it to the rest.'),
    ...onlyImports('feed-builds-on-devices', 'feed', ['devices'], 'feed/ (the event bus) imports only devices/ among the parts.'),
    {
      name: 'nothing-imports-test',
      severity: 'error',
      comment: 'test/ holds the cross-part tests and their support files; only test/ itself imports them (shared helpers live in testkit/).',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'nothing-imports-bench',
      severity: 'error',
      comment: 'bench/ is a program of its own (bench/main.ts); nothing else imports it.',
      from: { pathNot: '^bench/' },
      to: { path: '^bench/' },
    },
    {
      name: 'product-without-test-helpers',
      severity: 'error',
      // testkit/ is handled by the next rule.
      comment: 'The product does not import testkit/, test/ or bench/: they are built on the product, not the other way round. Unit tests beside the code may use testkit/.',
      from: { path: `^${PRODUCT}/` },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'product-code-without-testkit',
      severity: 'error',
      comment: 'Only the tests beside the code (*.test.ts[x]) may use testkit/.',
      from: { path: `^${PRODUCT}/`, pathNot: TEST_FILE },
      to: { path: '^testkit/' },
    },
    {
      name: 'product-without-dev-dependencies',
      severity: 'error',
      comment:
        'A devDependency is not installed with the product (npm install --omit=dev); unit tests beside the code (*.test.ts[x]) may use them. ' +
        'Exempt, as they never run in the installed package: the browser apps and their vite configs (bundled at build time, the package ships the bundles), ' +
        'dashboard/build.ts (runs vite only from a checkout) and cli/piazza.mjs (loads tsx only from a checkout).',
      from: { path: `^${PRODUCT}/`, pathNot: [TEST_FILE, ...BUILD_TIME] },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'server-without-browser-apps',
      severity: 'error',
      comment: 'The server side is compiled into the package without the browser apps (tsconfig.build.json); it shares code with them through dashboard/shared and devices/.',
      from: { path: `^${PRODUCT}/`, pathNot: [TEST_FILE, ...BUILD_TIME] },
      to: { path: '^dashboard/(app|public-app|i18n)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles between modules.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // node_modules is not cruised, but stays visible as the target of imports: excluding it
    // outright would hide the packages, and with them the devDependency rule.
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '^dashboard/dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages resolve as Node resolves them for ESM (some, like typebox, only export 'import').
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
}
