import type { Section } from './config-reader.js';
import type { DynamicConfig, DynamicPostgresqlRewind, DynamicRewindSettings, HaConfig, LocalRewindOverrides } from './config-types.js';

/** Patroni's defaults for `DynamicRewindSettings` (`maximum_lag_on_syncnode` -1: global_config.py). */
export const DYNAMIC_REWIND_DEFAULTS: DynamicRewindSettings = { checkTimeline: false, primaryStopTimeout: 0, maximumLagOnSyncnode: -1 };

/**
 * Reads `check_timeline`, `primary_stop_timeout` / `master_stop_timeout` and
 * `maximum_lag_on_syncnode` from the dynamic configuration's top level. Wrong types are refused.
 *
 * @example
 * ```ts
 * // bootstrap.dcs: {check_timeline: true, primary_stop_timeout: 30}
 * parseDynamicRewind(s); // { checkTimeline: true, primaryStopTimeout: 30, maximumLagOnSyncnode: -1 }
 * ```
 */
export function parseDynamicRewind(s: Section): DynamicRewindSettings {
  const stop = s.int('primary_stop_timeout', { min: 0 });
  const legacyStop = s.int('master_stop_timeout', { min: 0 });
  return {
    checkTimeline: s.bool('check_timeline') ?? DYNAMIC_REWIND_DEFAULTS.checkTimeline,
    primaryStopTimeout: stop ?? legacyStop ?? DYNAMIC_REWIND_DEFAULTS.primaryStopTimeout,
    maximumLagOnSyncnode: s.int('maximum_lag_on_syncnode') ?? DYNAMIC_REWIND_DEFAULTS.maximumLagOnSyncnode,
  };
}

/** Reads `postgresql.remove_data_directory_on_diverged_timelines` of the dynamic configuration. */
export function parseDynamicPostgresqlRewind(pg: Section): DynamicPostgresqlRewind {
  return { removeDataDirectoryOnDivergedTimelines: pg.bool('remove_data_directory_on_diverged_timelines') ?? false };
}

const LOCAL_KEYS = [
  ['use_pg_rewind', 'usePgRewind'],
  ['remove_data_directory_on_rewind_failure', 'removeDataDirectoryOnRewindFailure'],
  ['remove_data_directory_on_diverged_timelines', 'removeDataDirectoryOnDivergedTimelines'],
] as const;

/**
 * Reads `use_pg_rewind`, `remove_data_directory_on_rewind_failure` and
 * `remove_data_directory_on_diverged_timelines` from the local `postgresql:` section; undefined
 * when none is set. Wrong types are refused.
 *
 * @example
 * ```ts
 * // postgresql: {use_pg_rewind: true}
 * parseLocalRewind(p); // { usePgRewind: true }
 * ```
 */
export function parseLocalRewind(p: Section): LocalRewindOverrides | undefined {
  const out: LocalRewindOverrides = {};
  for (const [key, field] of LOCAL_KEYS) {
    const v = p.bool(key);
    if (v !== undefined) out[field] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The dynamic configuration as this node applies it: Patroni merges the local `postgresql:`
 * section over the dynamic one, key by key (patroni/config.py `_build_effective_configuration`;
 * only `use_slots` and `parameters` are treated otherwise), so a rewind key set locally wins.
 *
 * @example
 * ```ts
 * import { effectiveDynamic } from '@pgtools/ha-agent/internals';
 * effectiveDynamic(dynamic, config).postgresql.usePgRewind; // config.postgresql.rewindOverrides?.usePgRewind ?? dynamic's
 * ```
 */
export function effectiveDynamic(dynamic: DynamicConfig, config: HaConfig): DynamicConfig {
  const local = config.postgresql.rewindOverrides;
  if (!local) return dynamic;
  return { ...dynamic, postgresql: { ...dynamic.postgresql, ...local } };
}

/**
 * How long a primary's stop may take before it is forced, ms (Patroni's `Ha.primary_stop_timeout`):
 * `primary_stop_timeout` applies in synchronous mode only, where a stop can hang on a standby that
 * does not confirm the shutdown checkpoint. Undefined = the usual stop.
 *
 * @example
 * ```ts
 * import { primaryStopTimeoutMs } from '@pgtools/ha-agent/internals';
 * primaryStopTimeoutMs({ ...dynamic, synchronousMode: true, primaryStopTimeout: 5 }); // 5000
 * ```
 */
export function primaryStopTimeoutMs(dynamic: Pick<DynamicConfig, 'synchronousMode' | 'primaryStopTimeout'>): number | undefined {
  return dynamic.synchronousMode && dynamic.primaryStopTimeout > 0 ? dynamic.primaryStopTimeout * 1000 : undefined;
}
