import { parse as parseYaml } from 'yaml';
import { isObj } from './config-reader.js';
import type { HaConfig } from './config-types.js';

/**
 * True when the configuration carries any password (REST API, etcd, PostgreSQL roles, bootstrap users).
 *
 * @example
 * ```ts
 * import { configHasPasswords, parseConfig } from '@pgtools/ha-agent';
 * configHasPasswords(parseConfig(text).config); // true for the seed article's file
 * ```
 */
export function configHasPasswords(config: HaConfig): boolean {
  const a = config.postgresql.authentication;
  return Boolean(
    config.restapi.authentication?.password ||
    config.restapi.keyfilePassword ||
    config.etcd3.password ||
    a.superuser.password ||
    a.replication.password ||
    a.rewind?.password ||
    Object.values(config.bootstrap.users).some((u) => u.password),
  );
}

function holdsPassword(value: unknown, depth = 0): boolean {
  if (depth > 20) return false;
  if (Array.isArray(value)) return value.some((v) => holdsPassword(v, depth + 1));
  if (!isObj(value)) return false;
  return Object.entries(value).some(
    ([k, v]) => (/(^|_)password$/i.test(k) && v !== null && v !== undefined && v !== '' && typeof v !== 'object') || holdsPassword(v, depth + 1),
  );
}

/**
 * The warning for a configuration file whose group or other users may read it while it holds a
 * password (REST API, etcd, PostgreSQL roles, bootstrap users, `keyfile_password`), or undefined.
 * Only what is written in the file counts: `PATRONI_*_PASSWORD` variables are not in it.
 *
 * @example
 * ```ts
 * import { secretsReadableWarning } from '@pgtools/ha-agent';
 * secretsReadableWarning('/etc/patroni.yml', 0o100644, 'restapi: {authentication: {username: u, password: p}}');
 * // '/etc/patroni.yml holds passwords and is readable by other users (group and others, mode 0644): run chmod 600 /etc/patroni.yml ...'
 * ```
 */
export function secretsReadableWarning(path: string, mode: number, text: string): string | undefined {
  const readable = mode & 0o044;
  if (readable === 0) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: '1.1' });
  } catch {
    return undefined;
  }
  if (!holdsPassword(doc)) return undefined;
  const who = readable === 0o044 ? 'group and others' : readable === 0o040 ? 'its group' : 'others';
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${path} holds passwords and is readable by other users (${who}, mode ${octal}): run chmod 600 ${path} (or pass the passwords in PATRONI_* environment variables)`;
}
