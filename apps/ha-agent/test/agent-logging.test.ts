import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgToolsError } from '@pgtools/core';
import { afterAll, describe, expect, it } from 'vitest';
import { agentLogSettings } from '../src/agent-log-settings.js';
import { createAgentLogger, openRotatingLog } from '../src/agent-logger.js';
import { pyFormatNames, renderPyFormat, strftime } from '../src/python-log-format.js';

function sink(): { write(c: string): boolean; lines(): string[] } {
  const chunks: string[] = [];
  return { write: (c: string) => chunks.push(c) > 0, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("Patroni's log section", () => {
  it('maps level, type, dateformat, static_fields, dir and rotation with Patroni defaults', () => {
    expect(agentLogSettings({})).toEqual({ level: 'info', type: 'plain', fileSize: 25_000_000, fileNum: 4 });
    expect(
      agentLogSettings({ level: 'WARNING', type: 'JSON', dateformat: '%H:%M', static_fields: { app: 'pg' }, dir: '/var/log/ha', file_size: 100, file_num: 2 }),
    ).toEqual({
      level: 'warn',
      type: 'json',
      dateformat: '%H:%M',
      staticFields: { app: 'pg' },
      dir: '/var/log/ha',
      fileSize: 100,
      fileNum: 2,
    });
    expect(agentLogSettings({ level: 'CRITICAL' }).level).toBe('error');
    expect(agentLogSettings({ level: 'DEBUG' }).level).toBe('debug');
  });

  it('the --log-format flag wins over PATRONI_LOG_TYPE, which wins over log.type', () => {
    expect(agentLogSettings({ type: 'plain' }, { PATRONI_LOG_TYPE: 'json' }).type).toBe('json');
    expect(agentLogSettings({ type: 'json' }, { PATRONI_LOG_TYPE: 'json' }, 'plain').type).toBe('plain');
  });

  it('refuses bad values naming the key', () => {
    const check = (log: Record<string, unknown>, re: RegExp, flag?: string): void => {
      let caught: unknown;
      try {
        agentLogSettings(log, {}, flag);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(PgToolsError);
      expect((caught as PgToolsError).code).toBe('invalid_config');
      expect((caught as PgToolsError).message).toMatch(re);
    };
    check({ type: 'xml' }, /log\.type: must be plain or json, got "xml"/);
    check({}, /from --log-format/, 'yaml');
    check({ format: 42 }, /log\.format/);
    check({ format: ['message', { levelname: 3 }] }, /log\.format\[1\]/);
    check({ dateformat: 5 }, /log\.dateformat/);
    check({ static_fields: ['a'] }, /log\.static_fields/);
    check({ file_num: -1 }, /log\.file_num/);
  });
});

describe('Python logging formats', () => {
  it('renders %(attr)s placeholders with width, alignment and %%', () => {
    expect(renderPyFormat('%(asctime)s %(levelname)-8s|%(process)5d|%(message)s 100%%', { asctime: 'T', levelname: 'INFO', process: 42, message: 'hi' })).toBe(
      'T INFO    |   42|hi 100%',
    );
    expect(renderPyFormat('%(module)s:%(message).3s', { message: 'abcdef' })).toBe(':abc');
    expect(pyFormatNames('%(asctime)s %(levelname)s: %(message)s')).toEqual(['asctime', 'levelname', 'message']);
  });

  it('strftime covers the usual dateformat directives', () => {
    const d = new Date(2024, 1, 3, 4, 5, 6, 7);
    expect(strftime(d, '%Y-%m-%d %H:%M:%S %y %b %a %j %I%p %% %Q')).toBe('2024-02-03 04:05:06 24 Feb Sat 034 04AM % %Q');
    expect(strftime(d, '%z')).toMatch(/^[+-]\d{4}$/);
  });
});

describe('createAgentLogger', () => {
  it('plain with a Patroni format and dateformat', () => {
    const err = sink();
    const { logger, warnings } = createAgentLogger(
      agentLogSettings({ format: '%(asctime)s %(levelname)s: %(message)s', dateformat: '%Y-%m-%dT%H:%M:%S' }),
      err,
    );
    expect(warnings).toEqual([]);
    logger.warn('lock lost', { member: 'n1' });
    expect(err.lines()).toHaveLength(1);
    expect(err.lines()[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d WARNING: lock lost \{"member":"n1"\}$/);
  });

  it('json without a format: time, level, message, static fields and the fields, one object per line', () => {
    const err = sink();
    const { logger } = createAgentLogger(agentLogSettings({ type: 'json', level: 'DEBUG', static_fields: { app: 'ha-agent' } }), err);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    logger.debug('one', { big: 2n ** 70n, cyclic });
    logger.info('two');
    const rows = err.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ level: 'debug', message: 'one', app: 'ha-agent', big: (2n ** 70n).toString(), cyclic: { self: '[Circular]' } });
    expect(Date.parse(rows[0]!.time as string)).not.toBeNaN();
    expect(Object.keys(rows[1]!)).toEqual(['time', 'level', 'message', 'app']);
  });

  it("json with Patroni's format list renames attributes; unknown attributes are warned about once", () => {
    const err = sink();
    const { logger, warnings } = createAgentLogger(
      agentLogSettings({
        type: 'json',
        format: ['message', 'module', { asctime: '@timestamp' }, { levelname: 'level' }],
        dateformat: '%Y',
        static_fields: { app: 'patroni' },
      }),
      err,
    );
    expect(warnings).toEqual(['log.format: module is not available in ha-agent and will be empty or left out']);
    logger.error('boom', { n: 1n });
    const row = JSON.parse(err.lines()[0]!) as Record<string, unknown>;
    expect(row).toEqual({ message: 'boom', '@timestamp': String(new Date().getFullYear()), level: 'ERROR', app: 'patroni', n: '1' });
  });

  it('log.dir writes patroni.log and rotates it like RotatingFileHandler', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-agent-log-'));
    dirs.push(dir);
    const { logger, close, file } = createAgentLogger(agentLogSettings({ dir, type: 'json', file_size: 200, file_num: 2 }), sink());
    expect(file).toBe(join(dir, 'patroni.log'));
    for (let i = 0; i < 12; i++) logger.info(`line ${i}`, { pad: 'x'.repeat(40) });
    close();
    expect(readdirSync(dir).sort()).toEqual(['patroni.log', 'patroni.log.1', 'patroni.log.2']);
    const all = ['patroni.log.2', 'patroni.log.1', 'patroni.log'].flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(200);
    // Oldest lines are gone, the newest are kept in order.
    const numbers = all.map((l) => Number((JSON.parse(l) as { message: string }).message.split(' ')[1]));
    expect(numbers.at(-1)).toBe(11);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.length).toBeLessThan(12);
  });

  it('a rotating log with file_num 0 truncates instead of keeping backups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-agent-log-'));
    dirs.push(dir);
    const f = openRotatingLog(dir, 10, 0);
    f.write('0123456789\n');
    f.write('abc\n');
    f.close();
    expect(readdirSync(dir)).toEqual(['patroni.log']);
    expect(readFileSync(join(dir, 'patroni.log'), 'utf8')).toBe('abc\n');
  });
});
