/**
 * The module rule of DESIGN.md: a module is used only through its index.ts; imports
 * form no cycle; the ledger depends on nothing but platform; platform on no module.
 */
const MODULES = 'ledger|staff|customers|cards|stations|sales|payments|reconciliation|pos-gateway|privacy|risk|cases|statements|reports|messaging|portal|web|cli';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'only-through-index',
      comment: 'Another module is reached only through its index.ts.',
      severity: 'error',
      from: { path: `^src/(${MODULES}|platform)/` },
      to: {
        path: `^src/(${MODULES}|platform)/(?!index\\.ts$)`,
        pathNot: ['^src/$1/'],
      },
    },
    {
      name: 'ledger-depends-on-platform-only',
      severity: 'error',
      from: { path: '^src/ledger/' },
      to: { path: `^src/(${MODULES.replace('ledger|', '')})/` },
    },
    {
      name: 'platform-depends-on-no-module',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: `^src/(${MODULES})/` },
    },
    {
      name: 'modules-do-not-import-composition-root',
      severity: 'error',
      from: { path: `^src/(${MODULES}|platform)/` },
      to: { path: '^src/(server|main)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
