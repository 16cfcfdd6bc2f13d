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

/** One member's answer to `POST /failsafe`: accepted only on 200 `Accepted` (Patroni's `call_failsafe_member`). */
export interface FailsafeAnswer {
  name: string;
  accepted: boolean;
  /** Why not accepted: the status and body, or the transport error. */
  reason?: string;
  /** Its received/replayed WAL position (the `lsn` header), bytes. */
  lsn?: number;
}

/**
 * Posts `body` to `<api_url host>/failsafe` of each member in parallel, each within `timeoutMs`
 * (Patroni's 2 s), with the REST API's basic auth when it has one.
 *
 * @example
 * ```ts
 * import { postFailsafe } from '@pgtools/ha-agent/internals';
 * const answers = await postFailsafe([{ name: 'node2', apiUrl: 'http://10.0.0.2:8008/patroni' }], { name: 'node1' });
 * answers.every((a) => a.accepted);
 * ```
 */
export async function postFailsafe(
  members: Array<{ name: string; apiUrl: string }>,
  body: Record<string, unknown>,
  options: { timeoutMs?: number; auth?: { username: string; password: string } | undefined } = {},
): Promise<FailsafeAnswer[]> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.auth) headers.authorization = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
  return Promise.all(
    members.map(async (m): Promise<FailsafeAnswer> => {
      try {
        const url = new URL(m.apiUrl);
        url.pathname = '/failsafe';
        url.search = '';
        const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs ?? 2000) });
        const text = await res.text();
        const lsn = Number(res.headers.get('lsn') ?? NaN);
        const answer: FailsafeAnswer = { name: m.name, accepted: res.status === 200 && text === 'Accepted' };
        if (!answer.accepted) answer.reason = `${res.status} ${text.slice(0, 200)}`;
        if (Number.isSafeInteger(lsn)) answer.lsn = lsn;
        return answer;
      } catch (err) {
        return { name: m.name, accepted: false, reason: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
