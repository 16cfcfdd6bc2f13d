import type { Logger } from '@pgtools/core';
import { createHealthApi, type HealthApi, type HealthApiOptions } from '@pgtools/health-api';
import type { HaConfig } from '../config/config-types.js';
import type { HaAgentEvent } from './agent-events.js';

/**
 * The agent's REST API on the `restapi` section: listen address, basic auth, allowlist and TLS
 * from the configuration; each request reported as an `api_request` event.
 */
export function createAgentApi(
  ra: HaConfig['restapi'],
  options: Pick<HealthApiOptions, 'getState' | 'getCluster' | 'handlers'> & { logger: Logger; emit(event: HaAgentEvent): void },
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
