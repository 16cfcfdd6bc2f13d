import type { Logger } from '@pgtools/core';
import type { ClusterView } from '@pgtools/dcs';
import { createHealthApi, type HealthApi, type HealthApiOptions } from '@pgtools/health-api';
import type { HaConfig } from '../config/config-types.js';
import type { HaAgentEvent } from './agent-events.js';

/**
 * The agent's REST API on the `restapi` section: listen address, basic auth, allowlist and TLS
 * from the configuration (`allowlist_include_members` reads the members from etcd); each request reported as an `api_request` event.
 */
export function createAgentApi(
  ra: HaConfig['restapi'],
  options: Pick<HealthApiOptions, 'getState' | 'getCluster' | 'handlers'> & {
    logger: Logger;
    emit(event: HaAgentEvent): void;
    /** The hosts of the members' `api_url`s (for `allowlist_include_members`). */
    memberApiHosts(): string[];
  },
): HealthApi {
  return createHealthApi({
    listen: ra.listen,
    getState: options.getState,
    getCluster: options.getCluster,
    handlers: options.handlers,
    logger: options.logger,
    onEvent: (e) => {
      if (e.type === 'request') options.emit({ type: 'api_request', method: e.method, path: e.path, status: e.status });
    },
    ...(ra.authentication ? { auth: { username: ra.authentication.username, password: ra.authentication.password } } : {}),
    ...(ra.allowlist ? { allowlist: ra.allowlist } : {}),
    ...(ra.allowlistIncludeMembers ? { allowlistMembers: options.memberApiHosts } : {}),
    ...(ra.certfile && ra.keyfile
      ? {
          tls: {
            certfile: ra.certfile,
            keyfile: ra.keyfile,
            ...(ra.keyfilePassword ? { keyfilePassword: ra.keyfilePassword } : {}),
            ...(ra.cafile ? { cafile: ra.cafile } : {}),
            ...(ra.ciphers ? { ciphers: ra.ciphers } : {}),
            ...(ra.verifyClient ? { verifyClient: ra.verifyClient } : {}),
          },
        }
      : {}),
  });
}

/**
 * The hosts in the members' `api_url`s (`http://10.0.0.2:8008/patroni` → `10.0.0.2`), for
 * `restapi.allowlist_include_members`.
 *
 * @example
 * ```ts
 * import { memberApiHosts } from '@pgtools/ha-agent/internals';
 * memberApiHosts(view); // ['10.0.0.1', '10.0.0.2']
 * ```
 */
export function memberApiHosts(view: ClusterView | undefined): string[] {
  const hosts: string[] = [];
  for (const m of view?.members ?? []) {
    try {
      if (m.data.api_url) hosts.push(new URL(m.data.api_url).hostname.replace(/^\[(.*)\]$/, '$1'));
    } catch {
      // a member key with a broken api_url allows nothing
    }
  }
  return hosts;
}
