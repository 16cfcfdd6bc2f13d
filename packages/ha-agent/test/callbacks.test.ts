import { describe, expect, it } from 'vitest';
import { CALLBACK_ACTIONS, callbackArgv, parseConfig, PostgresCallbacks, shlexSplit, type CallbackAction, type HaConfig } from '../src/internals.js';
import { minimalConfig, refusal } from './minimal-config.js';

const NOENV = {};

const withCallbacks = (callbacks: string): string => `${minimalConfig({ scope: 'batman' })}${callbacks}\n`;

describe('shlexSplit (Python shlex.split, POSIX mode)', () => {
  // Expected values are Python 3's shlex.split on the same input.
  it.each([
    ['/bin/cb.sh', ['/bin/cb.sh']],
    ['  python3   /opt/cb.py  -v ', ['python3', '/opt/cb.py', '-v']],
    [`python3 "/opt/my hooks/cb.py" 'a b'`, ['python3', '/opt/my hooks/cb.py', 'a b']],
    [`a\\ b c`, ['a b', 'c']],
    [`"x\\"y" "a\\\\b" "c\\d"`, ['x"y', 'a\\b', 'c\\d']],
    [`'it''s' '\\n'`, ['its', '\\n']],
    [`a '' b`, ['a', '', 'b']],
    [`pre"mid dle"post`, ['premid dlepost']],
    [`echo # not a comment`, ['echo', '#', 'not', 'a', 'comment']],
    [`echo $HOME *`, ['echo', '$HOME', '*']],
    ['a\tb\nc', ['a', 'b', 'c']],
    ['', []],
  ])('%j', (input, expected) => {
    expect(shlexSplit(input)).toEqual(expected);
  });

  it('refuses an unclosed quote or a trailing backslash, with Python\u2019s words', () => {
    expect(refusal(() => shlexSplit(`cb.sh 'open`)).message).toContain('No closing quotation');
    expect(refusal(() => shlexSplit(`cb.sh "open`)).message).toContain('No closing quotation');
    expect(refusal(() => shlexSplit('cb.sh \\')).message).toContain('No escaped character');
  });
});

describe('callbackArgv', () => {
  it('is the split command, then action, role and cluster name (Patroni: <command> <action> <role> <scope>)', () => {
    expect(callbackArgv('/etc/patroni/cb.sh', 'on_start', 'replica', 'batman')).toEqual(['/etc/patroni/cb.sh', 'on_start', 'replica', 'batman']);
    expect(callbackArgv(`/usr/bin/python3 "/opt/my hooks/cb.py" --tag 'a b'`, 'on_role_change', 'primary', 'batman')).toEqual([
      '/usr/bin/python3',
      '/opt/my hooks/cb.py',
      '--tag',
      'a b',
      'on_role_change',
      'primary',
      'batman',
    ]);
  });
});

describe('postgresql.callbacks in the configuration', () => {
  it('is read as a mapping of action to command line, no longer warned about', () => {
    const { config, warnings } = parseConfig(
      withCallbacks(`  callbacks:
    on_start: /etc/patroni/cb.sh
    on_stop: /etc/patroni/cb.sh
    on_restart: /etc/patroni/cb.sh
    on_reload: "/usr/bin/python3 /etc/patroni/reload.py"
    on_role_change: /etc/patroni/vip.sh --iface eth0`),
      NOENV,
    );
    expect(warnings).toEqual([]);
    expect(config.postgresql.callbacks).toEqual({
      on_start: '/etc/patroni/cb.sh',
      on_stop: '/etc/patroni/cb.sh',
      on_restart: '/etc/patroni/cb.sh',
      on_reload: '/usr/bin/python3 /etc/patroni/reload.py',
      on_role_change: '/etc/patroni/vip.sh --iface eth0',
    });
  });

  it('is absent when not configured, empty, or every action is null', () => {
    expect(parseConfig(withCallbacks(''), NOENV).config.postgresql.callbacks).toBeUndefined();
    expect(parseConfig(withCallbacks('  callbacks: {}'), NOENV).config.postgresql.callbacks).toBeUndefined();
    expect(parseConfig(withCallbacks('  callbacks:'), NOENV).config.postgresql.callbacks).toBeUndefined();
    expect(parseConfig(withCallbacks('  callbacks: {on_start: null}'), NOENV).config.postgresql.callbacks).toBeUndefined();
  });

  it('refuses an unknown action name, naming the key and the known actions', () => {
    const err = refusal(() => parseConfig(withCallbacks('  callbacks: {on_promote: /bin/true}'), NOENV));
    expect(err.code).toBe('invalid_config');
    expect(err.message).toBe('postgresql.callbacks.on_promote: unknown callback; the actions are on_reload, on_restart, on_role_change, on_start, on_stop');
  });

  it('refuses a command that is not a non-empty string or does not split into words', () => {
    expect(refusal(() => parseConfig(withCallbacks('  callbacks: {on_start: ""}'), NOENV)).message).toBe(
      'postgresql.callbacks.on_start: must be a non-empty command line, got string ""',
    );
    expect(refusal(() => parseConfig(withCallbacks('  callbacks: {on_stop: 12}'), NOENV)).message).toBe(
      'postgresql.callbacks.on_stop: must be a non-empty command line, got number 12',
    );
    expect(refusal(() => parseConfig(withCallbacks('  callbacks: {on_stop: [a, b]}'), NOENV)).message).toBe(
      'postgresql.callbacks.on_stop: must be a non-empty command line, got a list',
    );
    expect(refusal(() => parseConfig(withCallbacks(`  callbacks: {on_reload: "cb.sh 'x"}`), NOENV)).message).toContain(
      'postgresql.callbacks.on_reload: cannot be split into words: No closing quotation',
    );
    expect(refusal(() => parseConfig(withCallbacks(`  callbacks: {on_reload: "'' x"}`), NOENV)).message).toContain(
      'postgresql.callbacks.on_reload: names no program',
    );
    expect(refusal(() => parseConfig(withCallbacks('  callbacks: /bin/cb.sh'), NOENV)).message).toBe(
      'postgresql.callbacks: must be a mapping, got string "/bin/cb.sh"',
    );
  });

  it('knows the five actions of Patroni', () => {
    expect([...CALLBACK_ACTIONS].sort()).toEqual(['on_reload', 'on_restart', 'on_role_change', 'on_start', 'on_stop']);
  });
});

describe('PostgresCallbacks: which callback fires when, with which role', () => {
  const config = parseConfig(withCallbacks(`  callbacks: {${CALLBACK_ACTIONS.map((a) => `${a}: "cb ${a}"`).join(', ')}}`), NOENV).config;
  const setup = (cfg: HaConfig = config): { cb: PostgresCallbacks; calls: string[] } => {
    const calls: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const cb = new PostgresCallbacks({
      config: () => cfg,
      logger,
      run: (action: CallbackAction, argv: string[]) => calls.push(`${action}: ${argv.join(' ')}`),
    });
    return { cb, calls };
  };
  const words = (calls: string[]): string[] => calls.map((c) => c.split(': ')[1]!.split(' ').slice(2).join(' '));

  it('a start fires on_start once PostgreSQL answers; a later cycle does not fire it again', () => {
    const { cb, calls } = setup();
    cb.started('replica', false);
    expect(calls).toEqual([]);
    cb.answering('replica');
    cb.answering('replica');
    expect(calls).toEqual(['on_start: cb on_start on_start replica batman']);
  });

  it('PostgreSQL found running when the agent started: on_start at the first cycle that sees it', () => {
    const { cb, calls } = setup();
    cb.answering('primary');
    cb.answering('primary');
    expect(words(calls)).toEqual(['on_start primary batman']);
  });

  it('restart fires on_restart only (no on_stop, no on_start); stop fires on_stop with the role it ran as', () => {
    const { cb, calls } = setup();
    cb.started('primary', true);
    cb.started('primary', true, 'restart');
    cb.stopped();
    expect(words(calls)).toEqual(['on_start primary batman', 'on_restart primary batman', 'on_stop primary batman']);
  });

  it('promotion: on_role_change primary; demotion: on_stop primary, then on_role_change replica instead of on_start', () => {
    const { cb, calls } = setup();
    cb.started('replica', true);
    cb.promoted();
    cb.answering('primary');
    cb.stopped();
    cb.started('replica', false);
    cb.answering('replica');
    expect(words(calls)).toEqual(['on_start replica batman', 'on_role_change primary batman', 'on_stop primary batman', 'on_role_change replica batman']);
  });

  it('a crashed primary restarted in place fires on_start primary; started as a replica instead, on_role_change replica', () => {
    const a = setup();
    a.cb.answering('primary');
    a.cb.started('primary', false);
    a.cb.answering('primary');
    expect(words(a.calls)).toEqual(['on_start primary batman', 'on_start primary batman']);
    const b = setup();
    b.cb.answering('primary');
    b.cb.started('replica', true);
    expect(words(b.calls)).toEqual(['on_start primary batman', 'on_role_change replica batman']);
  });

  it('a crashed primary that gives up the leader key: on_role_change demoted, then on_role_change replica when it follows', () => {
    const { cb, calls } = setup();
    cb.answering('primary');
    cb.gaveUpLeaderKey();
    cb.started('replica', true);
    expect(words(calls)).toEqual(['on_start primary batman', 'on_role_change demoted batman', 'on_role_change replica batman']);
  });

  it('after the data directory was wiped, the clone starts with on_start', () => {
    const { cb, calls } = setup();
    cb.answering('primary');
    cb.stopped();
    cb.wiped();
    cb.started('replica', true);
    expect(words(calls)).toEqual(['on_start primary batman', 'on_stop primary batman', 'on_start replica batman']);
  });

  it('on_reload with the current role; it does not count as a first callback', () => {
    const { cb, calls } = setup();
    cb.answering('replica');
    cb.reloaded();
    expect(words(calls)).toEqual(['on_start replica batman', 'on_reload replica batman']);
  });

  it('only the configured actions run; the configuration is read at each call', () => {
    let cfg: HaConfig = { ...config, postgresql: { ...config.postgresql, callbacks: { on_stop: 'stop.sh' } } };
    const calls: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const cb = new PostgresCallbacks({ config: () => cfg, logger, run: (_a, argv) => calls.push(argv.join(' ')) });
    cb.started('primary', true);
    cb.stopped();
    cfg = { ...cfg, scope: 'robin', postgresql: { ...cfg.postgresql, callbacks: { on_start: 'start.sh' } } };
    cb.started('primary', true);
    cb.stopped();
    expect(calls).toEqual(['stop.sh on_stop primary batman', 'start.sh on_start primary robin']);
  });
});
