import { readFileSync } from 'node:fs';
import { PgToolsError, type Logger } from '@pgtools/core';
import type { EtcdDcsOptions } from '@pgtools/dcs';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';

const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----\s*/g;

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PgToolsError('invalid_config', `etcd3.${what}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The `etcd3.hosts` as client URLs (`protocol` for the hosts given without a scheme). */
export function etcdEndpoints(config: HaConfig): string[] {
  const e = config.etcd3;
  return e.hosts.map((h) => (/^https?:\/\//i.test(h) ? h : `${e.protocol}://${h}`));
}

/**
 * The `EtcdDcs` options of an agent: Patroni's `etcd3` section (`hosts`, `protocol`, `cacert`,
 * `cert`, `key`, `username`, `password`), the namespace, scope and name, and the timings of the
 * dynamic configuration (`ttl`, `loop_wait`, `retry_timeout` as the deadline of every etcd call).
 *
 * Certificate files are read here, once (a missing or unreadable file throws `invalid_config`
 * naming it). As in Patroni, `key` may be left out when `cert` holds the private key too.
 * `protocol: https`, or any of the certificate settings, makes the connection TLS.
 *
 * @example
 * ```ts
 * import { EtcdDcs } from '@pgtools/dcs';
 * import { dcsOptionsFromConfig, parseConfig } from '@pgtools/ha-agent/internals';
 * const { config } = parseConfig(yamlText);
 * const dcs = new EtcdDcs(dcsOptionsFromConfig(config, config.bootstrap.dcs));
 * ```
 */
export function dcsOptionsFromConfig(config: HaConfig, dynamic: DynamicConfig = config.bootstrap.dcs, logger?: Logger): EtcdDcsOptions {
  const e = config.etcd3;
  const options: EtcdDcsOptions = {
    hosts: etcdEndpoints(config),
    namespace: config.namespace,
    scope: config.scope,
    name: config.name,
    ttl: dynamic.ttl,
    loopWait: dynamic.loopWait,
    callTimeoutMs: dynamic.retryTimeout * 1000,
  };
  if (logger) options.logger = logger;
  if (e.username !== undefined) options.auth = { username: e.username, password: e.password ?? '' };

  if (e.cacert !== undefined || e.cert !== undefined || e.key !== undefined) {
    const tls: NonNullable<EtcdDcsOptions['tls']> = {};
    if (e.cacert !== undefined) tls.ca = readPem(e.cacert, 'cacert');
    if (e.cert !== undefined) {
      const certText = readPem(e.cert, 'cert');
      if (e.key !== undefined) {
        tls.cert = certText;
        tls.key = readPem(e.key, 'key');
      } else {
        const keys = certText.match(PEM_KEY);
        if (!keys) throw new PgToolsError('invalid_config', `etcd3.key: is required: ${e.cert} holds no private key`);
        tls.key = keys.join('');
        tls.cert = certText.replace(PEM_KEY, '');
      }
    } else if (e.key !== undefined) {
      throw new PgToolsError('invalid_config', 'etcd3.cert: is required when etcd3.key is set');
    }
    options.tls = tls;
  }
  return options;
}
