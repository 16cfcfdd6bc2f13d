import type { ClusterView as DcsView } from '@pgtools/dcs';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import type { PgStatus } from '../postgres/pg-status.js';
import type { AgentRole } from './agent-events.js';

/** PostgreSQL's state as published in the member key and `GET /patroni` (Patroni's words). */
export type PgState =
  'stopped' | 'crashed' | 'starting' | 'running' | 'stopping' | 'restarting' | 'restart failed' | 'creating replica' | 'initializing new cluster';

/**
 * What the agent knows and remembers between cycles, shared by the loop (`HaAgent`) and the
 * action executor: one object, so that both always see the same facts.
 */
export class AgentRunState {
  view: DcsView | undefined;
  pgStatus: PgStatus | undefined;
  pgState: PgState = 'stopped';
  role: AgentRole = 'uninitialized';
  postgresDownSince: number | undefined;
  lastStartAttempt = 0;
  systemId: string | undefined;
  /** This data dir may hold WAL the leader never saw (we ran as primary): check pg_rewind before following. */
  mayHaveDiverged = false;
  /** When pg_rewind last failed (ms since epoch); cleared by a rewind, a start or a re-clone. */
  rewindFailedAt: number | undefined;
  /** When a replica last read the leader's timeline history to check its fork point. */
  divergenceCheckedAt = 0;
  stopping = false;
  abandoned = false;
  /** After a failed `pre_promote`: this member stays out of the leader race until then (ms since epoch). */
  raceBackoffUntil = 0;
  /** Where our WAL ended when we stopped cleanly as leader (agent shutdown): published while stopped. */
  finalLsn: number | undefined;

  constructor(
    public config: HaConfig,
    public dynamic: DynamicConfig,
  ) {}

  /** The member name. */
  get name(): string {
    return this.config.name;
  }
}
