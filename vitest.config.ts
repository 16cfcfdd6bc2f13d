import { defineConfig } from 'vitest/config';
import { testPgVersions } from './tools/testkit/src/pg-versions.js';
import { integrationTest, unitTest } from './vitest.shared.js';

const roots = '{packages,apps,tools}/*/';

/**
 * The suites that run again on each newer major of `PGTOOLS_TEST_PG` (default 16, 17 and 18;
 * `integration` runs everything on 15). The HA suites stay on 15: the agent needs pg_basebackup and
 * pg_rewind of the server's own major, and the npm builds of 16-18 have no client tools.
 */
const perVersion = ['packages/{core,cdc,lock,swap,repack}/', 'apps/repack/'];
/** These start a streaming replica with pg_basebackup, so they run on 15 only (README, "Tests"). */
const needsClientTools = ['packages/repack/test/replica.int.test.ts', 'packages/repack/test/throttle.int.test.ts'];

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', ...unitTest, include: unitTest.include.map((p) => roots + p) } },
      { test: { name: 'integration', ...integrationTest, include: integrationTest.include.map((p) => roots + p) } },
      ...testPgVersions()
        .filter((major) => major !== 15)
        .map((major) => ({
          test: {
            name: `integration-pg${major}`,
            ...integrationTest,
            include: perVersion.flatMap((dir) => integrationTest.include.map((p) => dir + p)),
            exclude: [...needsClientTools, '**/node_modules/**', '**/dist/**'],
            env: { PGTOOLS_PG_MAJOR: String(major) },
          },
        })),
    ],
  },
});
