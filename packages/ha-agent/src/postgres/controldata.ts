import { lsnToNumber } from '../agent/timeline-history.js';
import { runBinary, type RunBinaryOptions } from './run-binary.js';

/** The fields of `pg_controldata` the agent uses. */
export interface ControlData {
  /** `Database system identifier` (a string: it does not fit a double). */
  systemId: string;
  /** `Database cluster state`: `in production`, `shut down`, `shut down in recovery`, `in archive recovery`, `in crash recovery`... */
  clusterState: string;
  /** `Latest checkpoint's TimeLineID`. */
  timeline: number;
  /** `Latest checkpoint location` in bytes: after a clean shutdown, the end of the WAL that server wrote. */
  checkpointLsn?: number;
  /** Every `key: value` line as printed. */
  raw: Record<string, string>;
}

/**
 * Parses `pg_controldata` output (run with `LC_ALL=C`).
 *
 * @example
 * ```ts
 * import { parseControlData } from '@pgtools/ha-agent/internals';
 * parseControlData('Database system identifier:           7364003399928373256\nDatabase cluster state:               in production\nLatest checkpoint\'s TimeLineID:       1\n').systemId;
 * // '7364003399928373256'
 * ```
 */
export function parseControlData(text: string): ControlData {
  const raw: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    raw[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  const checkpoint = raw['Latest checkpoint location'];
  return {
    systemId: raw['Database system identifier'] ?? '',
    clusterState: raw['Database cluster state'] ?? '',
    timeline: Number(raw["Latest checkpoint's TimeLineID"] ?? 0),
    ...(checkpoint !== undefined && /^[0-9A-F]+\/[0-9A-F]+$/i.test(checkpoint) ? { checkpointLsn: lsnToNumber(checkpoint) } : {}),
    raw,
  };
}

/**
 * Runs `pg_controldata -D dataDir` and parses it.
 *
 * @example
 * ```ts
 * import { readControlData } from '@pgtools/ha-agent/internals';
 * const cd = await readControlData('/var/lib/postgresql/15/main', { binDir: '/usr/lib/postgresql/15/bin' });
 * console.log(cd.systemId, cd.clusterState);
 * ```
 */
export async function readControlData(dataDir: string, options: RunBinaryOptions): Promise<ControlData> {
  const { stdout } = await runBinary('pg_controldata', ['-D', dataDir], { ...options, timeoutMs: 30_000 });
  return parseControlData(stdout);
}

/**
 * True when the control file says the cluster last ran as a primary (cleanly stopped or crashed):
 * such a data dir may hold WAL a new leader never saw, so it may need pg_rewind before following.
 *
 * @example
 * ```ts
 * import { wasPrimary } from '@pgtools/ha-agent/internals';
 * wasPrimary('shut down'); // true
 * wasPrimary('shut down in recovery'); // false
 * ```
 */
export function wasPrimary(clusterState: string): boolean {
  return clusterState === 'shut down' || clusterState === 'in production' || clusterState === 'in crash recovery';
}
