import { powerLoss, signalAgent, signalPostmaster } from './faults.js';
import { waitStreaming } from './rejoin.js';
import type { ScenarioCluster } from './scenario-cluster.js';
import type { ScenarioContext, ScenarioResult, ScenarioSpec } from './scenario-run.js';

/** The scenarios of the side-by-side with Patroni (issue 6), in the order they run. */
export type HaBenchScenario = 'postmaster-kill' | 'agent-kill' | 'power-loss' | 'switchover';

/** Every scenario of `pnpm bench:ha`, in run order. */
export const HA_BENCH_SCENARIOS: readonly HaBenchScenario[] = ['postmaster-kill', 'agent-kill', 'power-loss', 'switchover'];

/** The table's row titles. */
export const HA_BENCH_TITLES: Readonly<Record<HaBenchScenario, string>> = {
  'postmaster-kill': 'postmaster SIGKILL on the primary',
  'agent-kill': 'agent SIGKILL on the primary',
  'power-loss': 'power loss of the primary',
  switchover: 'planned switchover (POST /switchover)',
};

/** What a bench scenario measures beyond `ScenarioResult`. Times are ms. */
export interface HaBenchExtras {
  /** Fault to the first direct write another node accepted (a new primary exists). */
  newPrimaryAfterMs?: number;
  /** The node that accepted it. */
  newPrimary?: string;
  /** Agent started again on the old primary to it streaming from the new one. */
  rejoinMs?: number;
  /** The rejoin was awaited for this long without the node streaming. */
  rejoinTimedOutMs?: number;
  /** Direct writes the old primary accepted after the new primary had accepted one. */
  orphanWrites?: number;
  /** Of those, the ones missing on the final primary (acknowledged, then discarded). */
  orphanWritesDiscarded?: number;
  /** Fault to the old primary's last accepted direct write. */
  oldPrimaryLastWriteAfterMs?: number;
  /** `POST /switchover`: status and body, and how long the answer took. */
  switchoverAnswer?: string;
  switchoverAnsweredAfterMs?: number;
  /** Absolute time of `newPrimaryAfterMs`, for `finishHaBenchExtras`. */
  promotedAt?: number;
}

/** Bounds of the bench scenarios. */
export interface HaBenchSpecOptions {
  /** How long the old primary's agent stays dead after a new primary exists (agent kill), default 5000. */
  orphanMs?: number;
  /** How long a new primary is awaited, default 60 000. */
  promotionTimeoutMs?: number;
  /** How long a rejoin is awaited, default 120 000. */
  rejoinTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function firstOtherAcceptance(
  ctx: ScenarioContext,
  notFrom: string,
  since: number,
  timeoutMs: number,
): Promise<{ node: string; at: number } | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = ctx.detector().acceptances.find((a) => a.node !== notFrom && a.ackedAt > since);
    if (hit) return { node: hit.node, at: hit.ackedAt };
    await sleep(100);
  }
  return undefined;
}

/** Waits for a new primary, records it, powers the old node's agent on and times its rejoin. */
async function promotionThenRejoin(
  ctx: ScenarioContext,
  faultAt: number,
  o: Required<HaBenchSpecOptions>,
  extras: HaBenchExtras,
  holdMs: number,
): Promise<void> {
  const old = ctx.leader;
  const hit = await firstOtherAcceptance(ctx, old.name, faultAt, o.promotionTimeoutMs);
  if (hit) {
    extras.newPrimaryAfterMs = hit.at - faultAt;
    extras.newPrimary = hit.node;
    extras.promotedAt = hit.at;
  }
  if (holdMs > 0) await sleep(holdMs);
  await old.agent?.exited;
  const startedAt = Date.now();
  old.startAgent();
  if (!hit) return;
  const at = await waitStreaming(ctx.cluster.node(hit.node), old.name, o.rejoinTimeoutMs);
  if (at === undefined) extras.rejoinTimedOutMs = o.rejoinTimeoutMs;
  else extras.rejoinMs = at - startedAt;
}

/**
 * The `ScenarioSpec` of one bench scenario; what it measures beyond the `ScenarioResult` lands in
 * `extras` (complete it with `finishHaBenchExtras` once the scenario has run).
 * - postmaster-kill: SIGKILL of the primary's postmaster only.
 * - agent-kill: SIGKILL of the primary's agent only; once a new primary exists the old node gets
 *   `orphanMs` more (Patroni, without a fence, keeps its PostgreSQL writable meanwhile), then its
 *   agent is started again and its rejoin timed.
 * - power-loss: agent, helpers and PostgreSQL SIGKILLed together; once a new primary exists the
 *   node is powered on (agent started) and its rejoin timed.
 * - switchover: `POST /switchover` to the leader, candidate the first replica.
 *
 * @example
 * ```ts
 * import { haBenchSpec, finishHaBenchExtras, runScenario, type HaBenchExtras } from '@pgtools/ha-scenarios';
 * const extras: HaBenchExtras = {};
 * const r = await runScenario(cluster, haBenchSpec('power-loss', {}, extras));
 * await finishHaBenchExtras(cluster, r, extras);
 * console.log(extras.rejoinMs);
 * ```
 */
export function haBenchSpec(scenario: HaBenchScenario, options: HaBenchSpecOptions, extras: HaBenchExtras): ScenarioSpec {
  const o: Required<HaBenchSpecOptions> = {
    orphanMs: options.orphanMs ?? 5000,
    promotionTimeoutMs: options.promotionTimeoutMs ?? 60_000,
    rejoinTimeoutMs: options.rejoinTimeoutMs ?? 120_000,
  };
  const name = HA_BENCH_TITLES[scenario];
  let faultAt = 0;
  switch (scenario) {
    case 'postmaster-kill':
      return {
        name,
        fault: async ({ leader, marks }) => {
          faultAt = Date.now();
          marks.postmaster = signalPostmaster(leader, 'SIGKILL');
          return faultAt;
        },
        lossBoundMs: 0,
      };
    case 'agent-kill':
      return {
        name,
        fault: async ({ leader }) => {
          faultAt = Date.now();
          signalAgent(leader, 'SIGKILL');
          return faultAt;
        },
        recover: (ctx) => promotionThenRejoin(ctx, faultAt, o, extras, o.orphanMs),
        convergeTimeoutMs: 150_000,
      };
    case 'power-loss':
      return {
        name,
        fault: async ({ leader }) => {
          faultAt = (await powerLoss(leader)).at;
          return faultAt;
        },
        recover: (ctx) => promotionThenRejoin(ctx, faultAt, o, extras, 0),
        convergeTimeoutMs: 150_000,
      };
    case 'switchover':
      return {
        name,
        fault: async ({ leader, replicas }) => {
          faultAt = Date.now();
          const res = await leader.rest('POST', '/switchover', { leader: leader.name, candidate: replicas[0]!.name }, 60_000);
          extras.switchoverAnswer = `${res.status} ${res.body.trim().slice(0, 120)}`;
          extras.switchoverAnsweredAfterMs = Date.now() - faultAt;
          if (res.status !== 200) throw new Error(`POST /switchover answered ${extras.switchoverAnswer}`);
          return faultAt;
        },
        lossBoundMs: 0,
      };
  }
}

/**
 * Completes `extras` from the scenario's result: when the old primary accepted its last direct
 * write; the direct writes it accepted after the new primary's first (what the split-brain detector
 * saw of an unfenced orphan); and how many of those the final primary does not have (acknowledged
 * to a client that wrote to the old primary directly, then thrown away by its rewind).
 *
 * @example
 * ```ts
 * import { finishHaBenchExtras } from '@pgtools/ha-scenarios';
 * await finishHaBenchExtras(cluster, result, extras);
 * console.log(`${extras.orphanWrites} writes accepted by the orphan, ${extras.orphanWritesDiscarded} discarded`);
 * ```
 */
export async function finishHaBenchExtras(cluster: ScenarioCluster, result: ScenarioResult, extras: HaBenchExtras): Promise<HaBenchExtras> {
  const all = result.detector.acceptances;
  const old = all.filter((a) => a.node === result.leaderBefore && a.ackedAt >= result.faultAt);
  if (old.length) extras.oldPrimaryLastWriteAfterMs = Math.max(...old.map((a) => a.ackedAt)) - result.faultAt;
  if (extras.promotedAt === undefined) return extras;
  const promotedAt = extras.promotedAt;
  const orphan = old.filter((a) => a.ackedAt > promotedAt);
  extras.orphanWrites = orphan.length;
  if (orphan.length === 0) return extras;
  // Rounds restart with every detector: only this scenario's rows (inserted after its first probe) count.
  const since = Math.min(...all.map((a) => a.startedAt)) - 50;
  const rows = await cluster
    .node(result.leaderAfter)
    .query<{ round: number }>('SELECT round FROM ha_probe WHERE node = $1 AND at >= to_timestamp($2::float8 / 1000)', [result.leaderBefore, since], 10_000);
  const kept = new Set(rows.map((r) => r.round));
  extras.orphanWritesDiscarded = orphan.filter((a) => !kept.has(a.round)).length;
  return extras;
}
