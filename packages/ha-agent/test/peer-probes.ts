import type { PeerProbe } from '../src/internals.js';

/** A reachable, running replica's answer to the peer probe, at WAL position `wal` (100 MB by default). */
export const replicaProbe = (name: string, wal = 100 * 1024 * 1024, extra: Partial<PeerProbe> = {}): PeerProbe => ({
  name,
  reachable: true,
  role: 'replica',
  state: 'running',
  walPosition: wal,
  ...extra,
});

/** A member whose REST API did not answer. */
export const down = (name: string): PeerProbe => ({ name, reachable: false });
