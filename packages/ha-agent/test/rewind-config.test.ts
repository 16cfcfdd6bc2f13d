import { describe, expect, it } from 'vitest';
import { parseConfig, parseDynamicConfig } from '../src/index.js';
import { effectiveDynamic, primaryStopTimeoutMs } from '../src/internals.js';
import { MINIMAL, refusal } from './minimal-config.js';

const NOENV = {};

const config = (postgresqlExtra = '', dcs = ''): string => `${MINIMAL}${postgresqlExtra}\nbootstrap:\n  dcs:\n    ttl: 30${dcs}\n`;

describe('rewind and timeline keys of the dynamic configuration', () => {
  it('has Patroni defaults', () => {
    const d = parseDynamicConfig({});
    expect(d).toMatchObject({ checkTimeline: false, primaryStopTimeout: 0, maximumLagOnSyncnode: -1 });
    expect(d.postgresql).toMatchObject({ usePgRewind: false, removeDataDirectoryOnRewindFailure: false, removeDataDirectoryOnDivergedTimelines: false });
  });

  it.each([
    [{ check_timeline: true }, { checkTimeline: true }],
    [{ check_timeline: 'on' }, { checkTimeline: true }],
    [{ primary_stop_timeout: 30 }, { primaryStopTimeout: 30 }],
    [{ master_stop_timeout: 20 }, { primaryStopTimeout: 20 }],
    [{ primary_stop_timeout: 30, master_stop_timeout: 20 }, { primaryStopTimeout: 30 }],
    [{ maximum_lag_on_syncnode: 1048576 }, { maximumLagOnSyncnode: 1048576 }],
    [{ maximum_lag_on_syncnode: 0 }, { maximumLagOnSyncnode: 0 }],
    [{ postgresql: { remove_data_directory_on_diverged_timelines: true } }, { postgresql: { removeDataDirectoryOnDivergedTimelines: true } }],
  ])('reads %j', (doc, expected) => {
    const warnings: string[] = [];
    expect(parseDynamicConfig(doc, 'config', warnings)).toMatchObject(expected);
    expect(warnings).toEqual([]);
  });

  it.each([
    [{ check_timeline: 'sometimes' }, 'config.check_timeline'],
    [{ primary_stop_timeout: -1 }, 'config.primary_stop_timeout'],
    [{ master_stop_timeout: 'soon' }, 'config.master_stop_timeout'],
    [{ maximum_lag_on_syncnode: '1MB' }, 'config.maximum_lag_on_syncnode'],
    [{ postgresql: { remove_data_directory_on_diverged_timelines: 'yes please' } }, 'config.postgresql.remove_data_directory_on_diverged_timelines'],
  ])('refuses %j naming %s', (doc, key) => {
    const err = refusal(() => parseDynamicConfig(doc, 'config'));
    expect(err.code).toBe('invalid_config');
    expect(err.message.startsWith(`${key}:`)).toBe(true);
  });
});

describe('rewind keys of the local postgresql section', () => {
  it('are read without warnings and win over the dynamic ones (Patroni merges local postgresql over dynamic)', () => {
    const { config: c, warnings } = parseConfig(
      config(
        '\n  use_pg_rewind: true\n  remove_data_directory_on_rewind_failure: false\n  remove_data_directory_on_diverged_timelines: true',
        '\n    postgresql: {use_pg_rewind: false, remove_data_directory_on_rewind_failure: true}',
      ),
      NOENV,
    );
    expect(warnings).toEqual([]);
    expect(c.postgresql.rewindOverrides).toEqual({
      usePgRewind: true,
      removeDataDirectoryOnRewindFailure: false,
      removeDataDirectoryOnDivergedTimelines: true,
    });
    expect(c.bootstrap.dcs.postgresql.usePgRewind).toBe(false);
    const eff = effectiveDynamic(c.bootstrap.dcs, c);
    expect(eff.postgresql).toMatchObject({ usePgRewind: true, removeDataDirectoryOnRewindFailure: false, removeDataDirectoryOnDivergedTimelines: true });
    // The rest of the dynamic configuration is untouched.
    expect(eff.ttl).toBe(30);
    expect(eff.postgresql.useSlots).toBe(c.bootstrap.dcs.postgresql.useSlots);
  });

  it('a key the local section does not set keeps the dynamic value', () => {
    const { config: c } = parseConfig(
      config('\n  use_pg_rewind: false', '\n    postgresql: {use_pg_rewind: true, remove_data_directory_on_rewind_failure: true}'),
      NOENV,
    );
    const eff = effectiveDynamic(parseDynamicConfig({ postgresql: { use_pg_rewind: true, remove_data_directory_on_rewind_failure: true } }), c);
    expect(eff.postgresql.usePgRewind).toBe(false);
    expect(eff.postgresql.removeDataDirectoryOnRewindFailure).toBe(true);
  });

  it('without local keys the dynamic configuration applies as it is', () => {
    const { config: c } = parseConfig(config(), NOENV);
    expect(c.postgresql.rewindOverrides).toBeUndefined();
    const d = parseDynamicConfig({ postgresql: { use_pg_rewind: true } });
    expect(effectiveDynamic(d, c)).toBe(d);
  });

  it.each(['use_pg_rewind', 'remove_data_directory_on_rewind_failure', 'remove_data_directory_on_diverged_timelines'])(
    'refuses a non-boolean postgresql.%s',
    (key) => {
      const err = refusal(() => parseConfig(config(`\n  ${key}: perhaps`), NOENV));
      expect(err.message.startsWith(`postgresql.${key}:`)).toBe(true);
    },
  );
});

describe('primaryStopTimeoutMs (Patroni: primary_stop_timeout in synchronous mode only)', () => {
  it.each([
    [{ synchronousMode: true, primaryStopTimeout: 5 }, 5000],
    [{ synchronousMode: false, primaryStopTimeout: 5 }, undefined],
    [{ synchronousMode: true, primaryStopTimeout: 0 }, undefined],
  ])('%j -> %s', (d, expected) => {
    expect(primaryStopTimeoutMs(d)).toBe(expected);
  });
});
