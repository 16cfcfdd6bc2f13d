import type { ClusterMember, DecisionInput, PeerProbe } from './decision-input.js';
import type { HaAction } from './ha-action.js';

// Small readers of the decision input that decide() and the leader race share.

export const isPrimaryRole = (role: string | undefined): boolean => role === 'master' || role === 'primary';

/** This node's WAL position: flush position on a primary, max(received, replayed) on a replica. */
export function myWalPosition(input: DecisionInput): number {
  const l = input.local;
  return l.role === 'primary' ? (l.walPosition ?? 0) : Math.max(l.receivedLsn ?? 0, l.replayedLsn ?? 0);
}

export function member(input: DecisionInput, name: string): ClusterMember | undefined {
  return input.cluster.members.find((m) => m.name === name);
}

export function probeOf(input: DecisionInput, name: string): PeerProbe | undefined {
  return input.peerProbes?.find((p) => p.name === name);
}

/** A probe that says the member could take over: answered, running, allowed to. */
export function probeHealthy(p: PeerProbe | undefined): p is PeerProbe {
  return p !== undefined && p.reachable && p.state === 'running' && !p.nofailover && !p.watchdogFailed;
}

export function probe(members: string[], why: string): HaAction {
  return { kind: 'probe_members', members, message: `${why}: asking ${members.join(', ')} for their status` };
}
