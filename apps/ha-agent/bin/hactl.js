#!/usr/bin/env node
// Committed shim: pnpm links bins at install time, before dist/ exists on a fresh clone.
import('../dist/hactl.js').then(
  (cli) =>
    cli.main(process.argv.slice(2)).then((code) => {
      process.exitCode = code;
    }),
  (err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('hactl is not built yet: run `pnpm build` in the repository root.');
      process.exitCode = 2;
    } else {
      throw err;
    }
  },
);
