import pg from 'pg';
import type { PgEndpoint } from './pg-connection.js';

/** One snapshot of a running server, read in a single round trip. */
export interface PgStatus {
  inRecovery: boolean;
  /** Current timeline: from the WAL insert position on a primary, the receiver or checkpoint on a replica. */
  timeline: number;
  /** Primary: WAL flush position (bytes). */
  walPosition?: number;
  /** Replica: last received position. */
  receivedLsn?: number;
  /** Replica: last replayed position. */
  replayedLsn?: number;
  replayedTimestamp?: string | null;
  replayPaused?: boolean;
  serverVersion: number;
  postmasterStartTime?: Date;
  systemId: string;
  /**
   * Replica: its WAL receiver (`pg_stat_wal_receiver`), when one runs. `lastMessageSentAt` is the
   * newest message's send time on the sender's clock (ms), comparable with the sender's
   * `pg_postmaster_start_time()`.
   */
  walReceiver?: { status: string; senderHost: string | null; senderPort: number | null; lastMessageSentAt: number | null; latestEndLsn?: number | null };
  /** Replica: a `restore_command` is set (it can recover from the archive without streaming). */
  restoreCommand?: boolean;
  /** Primary: `pg_stat_replication`. */
  replication: Array<{
    usename: string;
    application_name: string;
    client_addr: string | null;
    state: string;
    sync_state: string;
    sync_priority: number;
    /**
     * What a commit waits for on that standby (Patroni's `_ReplicaList` sort column): `replay_lsn`
     * under synchronous_commit remote_apply, `write_lsn` under remote_write, else `flush_lsn`, bytes.
     */
    lsn?: number;
  }>;
}

const STATUS_SQL = `
SELECT r.rec AS in_recovery,
       CASE WHEN r.rec THEN NULL ELSE (pg_current_wal_flush_lsn() - '0/0')::text END AS wal,
       CASE WHEN r.rec THEN NULL ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_tli,
       (pg_last_wal_receive_lsn() - '0/0')::text AS received,
       (pg_last_wal_replay_lsn() - '0/0')::text AS replayed,
       pg_last_xact_replay_timestamp()::text AS replay_ts,
       CASE WHEN r.rec THEN pg_is_wal_replay_paused() ELSE false END AS paused,
       w.received_tli AS receiver_tli,
       w.status AS receiver_status, w.sender_host, w.sender_port,
       (extract(epoch FROM w.last_msg_send_time) * 1000)::float8 AS receiver_sent_ms,
       (w.latest_end_lsn - '0/0')::text AS receiver_latest_end,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
       current_setting('server_version_num')::int AS version,
       pg_postmaster_start_time() AS start_time,
       (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
       CASE WHEN r.rec THEN current_setting('restore_command') <> '' END AS restore_command
  FROM (SELECT pg_is_in_recovery() AS rec) r
  LEFT JOIN (SELECT status, received_tli, sender_host, sender_port, last_msg_send_time, latest_end_lsn FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) w ON r.rec`;

const REPLICATION_SQL = `
SELECT usename, application_name, client_addr::text AS client_addr, state, sync_state, sync_priority,
       (CASE current_setting('synchronous_commit') WHEN 'remote_apply' THEN replay_lsn WHEN 'remote_write' THEN write_lsn ELSE flush_lsn END
        - '0/0')::text AS lsn
  FROM pg_stat_replication ORDER BY application_name`;

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/**
 * Reads role, timeline, WAL positions, version and system identifier in one query, plus
 * `pg_stat_replication` on a primary.
 *
 * @example
 * ```ts
 * import { queryStatus, withConnection } from '@pgtools/ha-agent/internals';
 * const s = await withConnection({ host: '127.0.0.1', port: 5432, user: 'postgres' }, queryStatus);
 * console.log(s.inRecovery, s.timeline);
 * ```
 */
export async function queryStatus(client: pg.Client): Promise<PgStatus> {
  const res = await client.query<Record<string, unknown>>(STATUS_SQL);
  const row = res.rows[0] ?? {};
  const inRecovery = row.in_recovery === true;
  const timeline = inRecovery ? (num(row.receiver_tli) ?? num(row.checkpoint_tli) ?? 0) : (num(row.primary_tli) ?? num(row.checkpoint_tli) ?? 0);
  const status: PgStatus = {
    inRecovery,
    timeline,
    serverVersion: Number(row.version),
    systemId: String(row.sysid ?? ''),
    replication: [],
  };
  const wal = num(row.wal);
  if (wal !== undefined) status.walPosition = wal;
  const received = num(row.received);
  if (received !== undefined) status.receivedLsn = received;
  const replayed = num(row.replayed);
  if (replayed !== undefined) status.replayedLsn = replayed;
  if (inRecovery) {
    status.replayedTimestamp = (row.replay_ts as string | null) ?? null;
    status.replayPaused = row.paused === true;
    status.restoreCommand = row.restore_command === true;
    if (typeof row.receiver_status === 'string') {
      status.walReceiver = {
        status: row.receiver_status,
        senderHost: (row.sender_host as string | null) ?? null,
        senderPort: num(row.sender_port) ?? null,
        lastMessageSentAt: num(row.receiver_sent_ms) ?? null,
        latestEndLsn: num(row.receiver_latest_end) ?? null,
      };
    }
  }
  if (row.start_time instanceof Date) status.postmasterStartTime = row.start_time;
  if (!inRecovery) {
    const rep = await client.query<Omit<PgStatus['replication'][number], 'lsn'> & { lsn: string | null }>(REPLICATION_SQL);
    status.replication = rep.rows.map(({ lsn, ...r }) => {
      const n = num(lsn);
      return n === undefined ? r : { ...r, lsn: n };
    });
  }
  return status;
}

/**
 * The timeline a server is on, from `IDENTIFY_SYSTEM` over a replication connection (Patroni's
 * `get_replica_timeline`): on a standby it is the timeline replay has reached, which the last
 * restartpoint (`pg_control_checkpoint()`) and a stopped WAL receiver do not tell. Undefined when
 * the server cannot be asked.
 *
 * @example
 * ```ts
 * import { identifyTimeline } from '@pgtools/ha-agent/internals';
 * await identifyTimeline({ host: '127.0.0.1', port: 5432, user: 'replicator' }); // 3
 * ```
 */
export async function identifyTimeline(endpoint: PgEndpoint, timeoutMs = 3000): Promise<number | undefined> {
  // `replication` is a startup parameter node-postgres passes on; its types do not list it.
  const config = {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    database: endpoint.database ?? 'postgres',
    connectionTimeoutMillis: timeoutMs,
    application_name: 'pgtools-ha-agent',
    replication: 'true',
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
  } as pg.ClientConfig;
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ timeline: number | string }>('IDENTIFY_SYSTEM');
    return num(res.rows[0]?.timeline);
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}
