import { PgToolsError, type LogFields, type LogLevel } from '@pgtools/core';

/** Patroni's `log:` section as ha-agent applies it. */
export interface AgentLogSettings {
  level: LogLevel;
  /** `plain` lines or one JSON object per line (Patroni 3.1's `log.type`). */
  type: 'plain' | 'json';
  /**
   * Patroni's `log.format`: for plain, a Python logging format string (`%(asctime)s %(levelname)s: %(message)s`);
   * for json, the same string or a list of attribute names, each optionally renamed (`- levelname: level`).
   * Undefined: Patroni's default (`%(asctime)s %(levelname)s: %(message)s`, then the fields), or for JSON `time`, `level`, `message`.
   */
  format?: string | Array<string | Record<string, string>> | undefined;
  /** strftime format of `%(asctime)s` (Python's default `%Y-%m-%d %H:%M:%S,mmm` when unset). */
  dateformat?: string;
  /** Added to every JSON line (Patroni's `log.static_fields`). */
  staticFields?: LogFields;
  /** Write `patroni.log` there (rotated) instead of stderr. */
  dir?: string;
  /** Rotate when the file would exceed this many bytes (Patroni's default 25000000). */
  fileSize: number;
  /** Rotated files kept: `patroni.log.1` .. `patroni.log.N` (Patroni's default 4). */
  fileNum: number;
}

export const LOG_TYPES = ['plain', 'json'] as const;

function bad(key: string, text: string): PgToolsError {
  return new PgToolsError('invalid_config', `log.${key}: ${text}`, { hint: 'see "Structured logs" in the ha-agent README' });
}

function positiveInt(raw: unknown, key: string, fallback: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < 0) throw bad(key, `must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

function levelOf(raw: unknown): LogLevel {
  const level = String(raw ?? 'INFO').toLowerCase();
  if (level === 'debug') return 'debug';
  if (level === 'warning' || level === 'warn') return 'warn';
  if (level === 'error' || level === 'critical') return 'error';
  return 'info';
}

function formatOf(raw: unknown): AgentLogSettings['format'] {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    return raw.map((item, i) => {
      if (typeof item === 'string') return item;
      if (item && typeof item === 'object' && Object.values(item).every((v) => typeof v === 'string')) return item as Record<string, string>;
      throw bad(`format[${i}]`, `must be an attribute name or a {attribute: new_name} mapping, got ${JSON.stringify(item)}`);
    });
  }
  throw bad('format', `must be a string or a list of attribute names, got ${JSON.stringify(raw)}`);
}

/**
 * Reads Patroni's `log:` section (`level`, `type`, `format`, `dateformat`, `static_fields`, `dir`,
 * `file_size`, `file_num`), with `PATRONI_LOG_TYPE`/`PATRONI_LOG_DATEFORMAT`/`PATRONI_LOG_FILE_SIZE`/
 * `PATRONI_LOG_FILE_NUM` from the environment and the `--log-format` flag on top. Throws
 * `invalid_config` naming the key.
 *
 * @example
 * ```ts
 * const settings = agentLogSettings({ level: 'INFO', type: 'json' }, process.env);
 * // { level: 'info', type: 'json', fileSize: 25000000, fileNum: 4 }
 * ```
 */
export function agentLogSettings(log: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, flagType?: string): AgentLogSettings {
  const rawType = flagType ?? env.PATRONI_LOG_TYPE ?? log.type ?? 'plain';
  const type = String(rawType).toLowerCase();
  if (type !== 'plain' && type !== 'json') {
    throw bad('type', `must be plain or json, got ${JSON.stringify(rawType)}${flagType !== undefined ? ' (from --log-format)' : ''}`);
  }
  const dateformat = env.PATRONI_LOG_DATEFORMAT ?? log.dateformat;
  if (dateformat !== undefined && typeof dateformat !== 'string')
    throw bad('dateformat', `must be a strftime string such as "%Y-%m-%dT%H:%M:%S%z", got ${JSON.stringify(dateformat)}`);
  const staticFields = log.static_fields;
  if (staticFields !== undefined && (staticFields === null || typeof staticFields !== 'object' || Array.isArray(staticFields))) {
    throw bad('static_fields', `must be a mapping of field names to values, got ${JSON.stringify(staticFields)}`);
  }
  const dir = log.dir;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) throw bad('dir', `must be a directory path, got ${JSON.stringify(dir)}`);
  return {
    level: levelOf(log.level),
    type,
    ...(log.format !== undefined ? { format: formatOf(log.format) } : {}),
    ...(dateformat !== undefined ? { dateformat } : {}),
    ...(staticFields !== undefined ? { staticFields: staticFields as LogFields } : {}),
    ...(dir !== undefined ? { dir } : {}),
    fileSize: positiveInt(env.PATRONI_LOG_FILE_SIZE ?? log.file_size, 'file_size', 25_000_000),
    fileNum: positiveInt(env.PATRONI_LOG_FILE_NUM ?? log.file_num, 'file_num', 4),
  };
}
