import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: { entry: 'src/index.ts' },
    clean: true,
    sourcemap: true,
    target: 'node20',
  },
  {
    // The command is one file with its dependencies in it: Node then reads and compiles one module
    // instead of resolving ~90 across the workspace and pg's packages (start-up, issue 20 item 5).
    entry: ['src/cli.ts'],
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    noExternal: [/.*/],
    // pg loads these only on request (`pg.native`, Cloudflare Workers).
    external: ['pg-native', 'pg-cloudflare'],
    // pg and its helpers are CommonJS: give their `require` calls a real one. And pg asks at load
    // whether it runs on Cloudflare Workers: without a `navigator` (Node 20 has none; 21+ has this
    // one) it builds a `Response`, which loads Node's whole fetch implementation: ~7 ms of ~45 in a
    // profile of `--version`. A module-scoped `navigator` answers first, for this bundle only.
    banner: {
      js: [
        "import { createRequire as __pgtoolsCreateRequire } from 'node:module';",
        'const require = __pgtoolsCreateRequire(import.meta.url);',
        "const navigator = globalThis.navigator ?? { userAgent: 'Node.js/' + process.versions.node };",
      ].join(' '),
    },
  },
]);
