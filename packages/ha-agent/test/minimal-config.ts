// The smallest valid node configuration, shared by the configuration tests. It ends inside the
// `postgresql:` section, so a test can append `postgresql` keys (two-space indent) or new sections.
// Not a test file itself.

import { expect } from 'vitest';
import { PgToolsError } from '@pgtools/core';

export function minimalConfig(o: { scope?: string; dataDir?: string } = {}): string {
  return `
scope: ${o.scope ?? 'demo'}
name: n1
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: {hosts: [127.0.0.1:2379]}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: ${o.dataDir ?? '/tmp/n1'}
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
`;
}

export const MINIMAL = minimalConfig();

/** The `PgToolsError` that `fn` throws; fails the test when it throws nothing or something else. */
export function refusal(fn: () => unknown): PgToolsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PgToolsError);
    return err as PgToolsError;
  }
  throw new Error('expected a refusal');
}
