import { defineConfig } from 'vitest/config';
import { integrationTest, unitTest } from './vitest.shared.js';

const roots = '{packages,apps,tools}/*/';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', ...unitTest, include: unitTest.include.map((p) => roots + p) } },
      { test: { name: 'integration', ...integrationTest, include: integrationTest.include.map((p) => roots + p) } },
    ],
  },
});
