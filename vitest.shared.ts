import { defineConfig } from 'vitest/config';

/** Integration suites start real servers: one file at a time, generous timeouts. */
export const integrationTest = {
  include: ['test/**/*.int.test.ts'],
  fileParallelism: false,
  testTimeout: 120_000,
  hookTimeout: 120_000,
  teardownTimeout: 60_000,
};

export const unitTest = {
  include: ['test/**/*.test.ts'],
  exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'],
};

/** Per-package config: `vitest run` inside a package runs its unit and integration tests. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
