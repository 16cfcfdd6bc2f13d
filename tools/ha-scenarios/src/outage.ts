import type { Ack } from './write-load.js';

/** The longest write gap around a fault. */
export interface Outage {
  /** Longest gap between consecutive acknowledged writes, from the last one before the fault on, ms. */
  outageMs: number;
  /** The acknowledgements on both sides of that gap (ms since the epoch). */
  from: number | undefined;
  to: number | undefined;
}

/**
 * The outage window: the longest gap between acknowledged writes, starting at the last write
 * acknowledged before `faultAt` and ending at the first one at or after `until` (later gaps belong to
 * later events). Without any write after the fault, the gap runs to `until`.
 *
 * @example
 * ```ts
 * import { outageWindow } from '@pgtools/ha-scenarios';
 * outageWindow([0, 100, 200, 3200, 3300].map((at, id) => ({ id, at, server: 'n1' })), 250, 3250).outageMs; // 3000
 * ```
 */
export function outageWindow(acks: readonly Ack[], faultAt: number, until: number): Outage {
  const times = acks.map((a) => a.at).sort((a, b) => a - b);
  let prev = times.filter((t) => t <= faultAt).at(-1) ?? faultAt;
  let best: Outage = { outageMs: 0, from: undefined, to: undefined };
  let closed = false;
  for (const t of times) {
    if (t <= faultAt) continue;
    if (t - prev > best.outageMs) best = { outageMs: t - prev, from: prev, to: t };
    prev = t;
    if (t >= until) {
      closed = true;
      break;
    }
  }
  if (!closed && until - prev > best.outageMs) best = { outageMs: until - prev, from: prev, to: undefined };
  return best;
}
