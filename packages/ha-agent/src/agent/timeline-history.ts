/**
 * Converts an LSN (`16/B374D848`) to its byte position.
 *
 * @example
 * ```ts
 * import { lsnToNumber } from '@pgtools/ha-agent/internals';
 * lsnToNumber('0/3000060'); // 50331744
 * ```
 */
export function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.trim().split('/');
  return parseInt(hi ?? '0', 16) * 2 ** 32 + parseInt(lo ?? '0', 16);
}

/** One line of a `<timeline>.history` file. */
export interface TimelineSwitch {
  /** The timeline that ended. */
  timeline: number;
  /** Where it ended, bytes. */
  lsn: number;
  reason: string;
}

/**
 * Parses a PostgreSQL timeline history file (`1\t0/3000060\tno recovery target specified`).
 *
 * @example
 * ```ts
 * import { parseTimelineHistory } from '@pgtools/ha-agent/internals';
 * parseTimelineHistory('1\t0/3000060\tno recovery target specified\n');
 * // [{ timeline: 1, lsn: 50331744, reason: 'no recovery target specified' }]
 * ```
 */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [tl, lsn, ...reason] = t.split(/\s+/);
    if (tl === undefined || lsn === undefined || !/^\d+$/.test(tl) || !/^[0-9A-F]+\/[0-9A-F]+$/i.test(lsn)) continue;
    out.push({ timeline: Number(tl), lsn: lsnToNumber(lsn), reason: reason.join(' ') });
  }
  return out;
}

/**
 * Whether a replica at `position` on `timeline` has WAL the leader's history does not contain: its
 * timeline is not in the leader's history, or it went past the point where the leader's timeline
 * forked from it (it streamed from a primary that kept writing after the failover). Such a replica
 * can never stream from the leader again without pg_rewind.
 *
 * @example
 * ```ts
 * import { divergedFromHistory, parseTimelineHistory } from '@pgtools/ha-agent/internals';
 * const leaderHistory = parseTimelineHistory('1\t0/3000060\tno recovery target specified');
 * divergedFromHistory(1, 0x3000100, leaderHistory); // true: it went on writing timeline 1 past the fork
 * divergedFromHistory(1, 0x3000000, leaderHistory); // false: it only lags
 * ```
 */
export function divergedFromHistory(timeline: number, position: number, leaderHistory: TimelineSwitch[]): boolean {
  const fork = leaderHistory.find((s) => s.timeline === timeline);
  return fork === undefined || position > fork.lsn;
}
