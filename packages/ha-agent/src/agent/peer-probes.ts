import { probeFromPatroniStatus } from '../decision/peer-probe.js';
import type { PeerProbe } from '../decision/decision-input.js';

/**
 * Asks members `GET <api_url>` in parallel (Patroni's `/patroni`), each within `timeoutMs`;
 * a member that does not answer is `reachable: false`.
 *
 * @example
 * ```ts
 * import { probeMembers } from '@pgtools/ha-agent/internals';
 * const probes = await probeMembers([{ name: 'node2', apiUrl: 'http://10.0.0.2:8008/patroni' }]);
 * ```
 */
export async function probeMembers(members: Array<{ name: string; apiUrl?: string | undefined }>, timeoutMs = 2000): Promise<PeerProbe[]> {
  return Promise.all(
    members.map(async (m): Promise<PeerProbe> => {
      if (!m.apiUrl) return { name: m.name, reachable: false };
      try {
        const res = await fetch(m.apiUrl, { signal: AbortSignal.timeout(timeoutMs) });
        const body: unknown = await res.json();
        return probeFromPatroniStatus(m.name, body);
      } catch {
        return { name: m.name, reachable: false };
      }
    }),
  );
}
