import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { PgToolsError } from '@pgtools/core';
import { accountsFor, pgbenchScript } from './fixture.js';
import { parsePgbenchLog, type PgbenchTransaction } from './pgbench-log.js';

export interface LoadOptions {
  pgbench: string;
  host: string;
  port: number;
  user: string;
  database: string;
  rows: number;
  clients: number;
  threads: number;
  /** Fixed rate (`--rate`), or undefined for as fast as it goes. */
  tps: number | undefined;
  /** Another pgbench script than the bench table's, with its own `-D` variables (the database-scale scenario's). */
  script?: { text: string; defines: Record<string, number> };
}

/** A running pgbench; `stop()` ends it and returns every logged transaction. */
export interface RunningLoad {
  /** The exact pgbench command line, for the report. */
  command: string;
  stop(admin: pg.ClientBase): Promise<{ transactions: PgbenchTransaction[]; clientsAlive: number; stderr: string }>;
}

const APPLICATION_NAME = 'pgbench';

/**
 * pgbench's command line for the benchmark load.
 *
 * @example
 * ```ts
 * pgbenchArgs({ ...options, tps: 400 }, '/tmp/load.sql', '/tmp/log');
 * ```
 */
export function pgbenchArgs(o: LoadOptions, scriptFile: string, logPrefix: string): string[] {
  return [
    '-h',
    o.host,
    '-p',
    String(o.port),
    '-U',
    o.user,
    '-n',
    '-M',
    'prepared',
    '-c',
    String(o.clients),
    '-j',
    String(o.threads),
    // Ended early by terminating its sessions, once the repack and the tail are over.
    '-T',
    '86400',
    ...(o.tps === undefined ? [] : ['-R', String(o.tps)]),
    ...Object.entries(o.script?.defines ?? { maxid: o.rows, accounts: accountsFor(o.rows) }).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    '-f',
    scriptFile,
    '--log',
    `--log-prefix=${logPrefix}`,
    o.database,
  ];
}

/**
 * Starts the load and waits until all its clients are connected. pgbench has no "stop now"
 * that keeps its logs, so `stop()` terminates its sessions: the clients abort, pgbench exits
 * normally and flushes its per-transaction logs (an interrupted transaction rolls back, ledger
 * and all, so the expected content stays exact).
 *
 * @example
 * ```ts
 * const load = await startLoad(admin, { pgbench, host, port, user: 'postgres', database, rows, clients: 8, threads: 2, tps: 400 });
 * // ... repack ...
 * const { transactions } = await load.stop(admin);
 * ```
 */
export async function startLoad(admin: pg.ClientBase, o: LoadOptions): Promise<RunningLoad> {
  const dir = mkdtempSync(join(tmpdir(), 'pgtools-bench-load-'));
  const scriptFile = join(dir, 'load.sql');
  writeFileSync(scriptFile, o.script?.text ?? pgbenchScript());
  const args = pgbenchArgs(o, scriptFile, join(dir, 'tx'));
  const child: ChildProcess = spawn(o.pgbench, args, {
    cwd: dir,
    env: { ...process.env, PGAPPNAME: APPLICATION_NAME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('close', (code) => {
      exitCode = code;
      resolve();
    });
    child.on('error', (err) => {
      stderr += String(err);
      exitCode = -1;
      resolve();
    });
  });
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const sessions = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [o.database, APPLICATION_NAME])
    ).rows.map((r) => r.pid);

  const deadline = Date.now() + 30_000;
  while ((await sessions()).length < o.clients) {
    if (exitCode !== undefined || Date.now() > deadline) {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
      cleanup();
      throw new PgToolsError('load_failed', `pgbench did not start its ${o.clients} clients: ${stderr.trim().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    command: `pgbench ${args.map((a) => (a.includes(dir) ? a.replace(dir, '<tmp>') : a)).join(' ')}`,
    async stop(client) {
      try {
        const alive = await sessions();
        for (const pid of alive) await client.query('SELECT pg_terminate_backend($1)', [pid]);
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(killTimer);
        const transactions: PgbenchTransaction[] = [];
        for (const f of readdirSync(dir).filter((n) => n.startsWith('tx.'))) {
          transactions.push(...parsePgbenchLog(readFileSync(join(dir, f), 'utf8'), { throttled: o.tps !== undefined }));
        }
        return { transactions, clientsAlive: alive.length, stderr: stderr.trim() };
      } finally {
        cleanup();
      }
    },
  };
}
