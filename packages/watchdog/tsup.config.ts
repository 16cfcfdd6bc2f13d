import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The fence is a POSIX sh script, spawned from dist/fence.sh (next to the bundle).
  onSuccess: async () => {
    copyFileSync('src/fence/fence.sh', 'dist/fence.sh');
  },
});
