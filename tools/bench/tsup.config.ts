import { defineConfig } from 'tsup';

export default defineConfig({
  // The child is its own entry: every pgtools repack runs in a separate process so its peak RSS is its own.
  entry: ['src/index.ts', 'src/cli.ts', 'src/pgtools-child.ts', 'src/startup-cli.ts', 'src/many-tables-cli.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
