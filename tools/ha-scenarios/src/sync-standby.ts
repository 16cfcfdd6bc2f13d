import type { ScenarioCluster } from './scenario-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until some member's `/cluster` shows a synchronous standby. In synchronous mode nobody may
 * take over before the leader has named one (a commit could exist on the leader alone), so a
 * failure scenario injects its fault only after this.
 *
 * @example
 * ```ts
 * import { waitForSyncStandby } from '@pgtools/ha-scenarios';
 * await cluster.setDynamicConfig({ synchronous_mode: true });
 * await waitForSyncStandby(cluster);
 * ```
 */
export async function waitForSyncStandby(cluster: ScenarioCluster, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(cluster.nodes.map((n) => n.rest('GET', '/cluster').catch(() => undefined)));
    const named = answers.some(
      (a) => a?.status === 200 && (JSON.parse(a.body) as { members: Array<{ role: string }> }).members.some((m) => m.role === 'sync_standby'),
    );
    if (named) return;
    if (Date.now() > deadline) throw new Error(`no synchronous standby named within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}
