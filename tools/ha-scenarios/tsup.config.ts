import { defineConfig } from 'tsup';

export default defineConfig({
  // bench-ha is the `pnpm bench:ha` command (dist/bench-ha.js); index is the library.
  entry: { index: 'src/index.ts', 'bench-ha': 'src/bench-ha-cli.ts' },
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
