import type { ClusterView, LastLeader } from '../decision/decision-input.js';
import type { PgStatus } from '../postgres/pg-status.js';

/**
 * What a replica knows of its leader's PostgreSQL incarnation and of its own streaming from it
 * (the inputs `lastLeader` and `streamedFromLeaderAt` of `decide`). Kept across cycles, also while
 * no one holds the leader key: in the race that follows a leader's death it is what tells a
 * replica whether it saw what the leader wrote after its last restart.
 *
 * @example
 * ```ts
 * import { LeaderStream } from '@pgtools/ha-agent/internals';
 * const ls = new LeaderStream('node2');
 * ls.observeView(toDecisionView(view), Date.now());
 * ls.observeReceiver(status, { host: '10.0.0.1', port: 5432 });
 * decide({ ...input, lastLeader: ls.lastLeader, local: { ...local, streamedFromLeaderAt: ls.streamedAt } });
 * ```
 */
export class LeaderStream {
  private last: LastLeader | undefined;
  private streamed: number | undefined;

  constructor(private readonly me: string) {}

  /** The leader (not this node) last seen with a known PostgreSQL start time. */
  get lastLeader(): LastLeader | undefined {
    return this.last;
  }

  /** Newest send time (the leader's clock, ms) of a message received from `lastLeader` while streaming. */
  get streamedAt(): number | undefined {
    return this.streamed;
  }

  /** Notes the key holder and its start time; a new leader starts with nothing streamed from it. */
  observeView(view: ClusterView, now: number): void {
    const leader = view.leader;
    if (leader === undefined) return;
    if (leader === this.me) {
      this.last = undefined;
      this.streamed = undefined;
      return;
    }
    const startedAt = view.members.find((m) => m.name === leader)?.postmasterStartTime;
    if (startedAt === undefined) return;
    if (this.last?.name === leader && this.last.startedAt === startedAt) return;
    if (this.last?.name !== leader) this.streamed = undefined;
    this.last = { name: leader, startedAt, seenAt: now };
  }

  /** Notes what the WAL receiver got from the leader (only while it streams from that server). */
  observeReceiver(status: PgStatus | undefined, leaderServer: { host: string; port: number } | undefined): void {
    const r = status?.walReceiver;
    if (!r || r.status !== 'streaming' || r.lastMessageSentAt === null || !leaderServer) return;
    if (r.senderHost !== leaderServer.host || (r.senderPort !== null && r.senderPort !== leaderServer.port)) return;
    this.streamed = Math.max(this.streamed ?? Number.NEGATIVE_INFINITY, r.lastMessageSentAt);
  }
}
