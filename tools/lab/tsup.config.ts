import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/cli.ts', 'src/load-worker.ts', 'src/index.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
