#!/usr/bin/env node
// Committed shim: pnpm links bins at install time, before dist/ exists on a fresh clone.
import { setFlagsFromString } from 'node:v8';

// Memory (issue 20): the agent runs one HA cycle per loop_wait and answers a few REST calls; it
// gains nothing from V8's optimizing compiler or a young generation grown to 16 MB. Set before the
// agent's modules load, these take its RSS after loading from 76.6 to 62.8 MB (Node 20, medians of
// two; docs/benchmarks.md "Agent memory"). PGTOOLS_AGENT_V8_DEFAULTS=0 leaves V8's defaults.
if (process.env.PGTOOLS_AGENT_V8_DEFAULTS !== '0') {
  setFlagsFromString('--no-opt');
  setFlagsFromString('--semi-space-growth-factor=1');
}

import('../dist/ha-agent.js').then(
  (cli) =>
    cli.main(process.argv.slice(2)).then((code) => {
      process.exitCode = code;
    }),
  (err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('ha-agent is not built yet: run `pnpm build` in the repository root.');
      process.exitCode = 2;
    } else {
      throw err;
    }
  },
);
