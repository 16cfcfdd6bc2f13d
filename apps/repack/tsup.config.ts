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
    // pg and its helpers are CommonJS: give their `require` calls a real one.
    banner: { js: "import { createRequire as __pgtoolsCreateRequire } from 'node:module'; const require = __pgtoolsCreateRequire(import.meta.url);" },
  },
]);
