import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pgBinDir } from '@pgtools/testkit';
import { sql, type HaNode } from './ha-cluster.js';

// A change-data-capture consumer for the integration tests: pg_recvlogical (test_decoding) on a
// permanent logical slot of whichever node is the writable primary, restarted there whenever its
// connection ends (a switchover, a failover). Not a test file itself.

/** Parses test_decoding's `table public.ha_probe: INSERT: id[integer]:42 ...` lines. */
const INSERT = /^table public\.ha_probe: INSERT: id\[integer\]:(\d+)/;

export class LogicalConsumer {
  /** Every id received, in order, duplicates included. */
  readonly received: number[] = [];
  /** Where each (re)connection went: node name and when. */
  readonly connections: Array<{ node: string; at: number; firstChangeAt?: number }> = [];
  /** pg_recvlogical's error output (for a failure's description). */
  readonly errors: string[] = [];
  private child: ChildProcess | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly nodes: () => HaNode[],
    private readonly slot: string,
  ) {}

  start(): this {
    this.running = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.child?.pid !== undefined && this.child.exitCode === null) process.kill(this.child.pid, 'SIGINT');
    await this.running;
  }

  /** The writable primary whose copy of the slot is free, if any. */
  private async primary(): Promise<HaNode | undefined> {
    for (const n of this.nodes()) {
      const rows = await sql<{ ok: boolean }>(
        n.pgPort,
        'SELECT NOT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active) AS ok',
        [this.slot],
      ).catch(() => []);
      if (rows[0]?.ok === true) return n;
    }
    return undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const node = await this.primary();
      if (!node) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.connections.push({ node: node.name, at: Date.now() });
      await this.consume(node);
    }
  }

  /** One pg_recvlogical run against `node`, until its connection ends (or `stop`). */
  private consume(node: HaNode): Promise<void> {
    return new Promise((resolve) => {
      // -F 1 / -s 1: fsync and report the position every second; --no-loop: exit when the server goes.
      const child = spawn(
        join(pgBinDir(), 'pg_recvlogical'),
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(node.pgPort),
          '-U',
          'postgres',
          '-d',
          'postgres',
          '-S',
          this.slot,
          '--start',
          '--no-loop',
          '-F',
          '1',
          '-s',
          '1',
          '-f',
          '-',
        ],
        { env: { ...process.env, PGPASSWORD: 'postgres' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.child = child;
      let rest = '';
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          const m = INSERT.exec(line);
          if (m?.[1] === undefined) continue;
          this.received.push(Number(m[1]));
          const current = this.connections.at(-1);
          if (current && current.firstChangeAt === undefined) current.firstChangeAt = Date.now();
        }
      });
      child.stderr.on('data', (chunk: Buffer) => this.errors.push(`${node.name}: ${chunk.toString('utf8').trim()}`));
      child.on('close', () => resolve());
    });
  }
}

/** Received / duplicated / missing / never-committed counts of a run. */
export interface ConsumerTally {
  received: number;
  distinct: number;
  duplicated: number;
  /** Acknowledged writes never received. */
  missing: number[];
  /** Received ids that are not in the final primary's table. */
  notCommitted: number[];
}

/**
 * Compares what the consumer received with the acknowledged writes and the final primary's table.
 *
 * @example
 * ```ts
 * tally([1, 2, 2, 3], [1, 2, 3], new Set([1, 2, 3])); // { received: 4, distinct: 3, duplicated: 1, missing: [], notCommitted: [] }
 * ```
 */
export function tally(received: readonly number[], acked: readonly number[], onPrimary: ReadonlySet<number>): ConsumerTally {
  const seen = new Set(received);
  return {
    received: received.length,
    distinct: seen.size,
    duplicated: received.length - seen.size,
    missing: acked.filter((id) => !seen.has(id)),
    notCommitted: [...seen].filter((id) => !onPrimary.has(id)),
  };
}
