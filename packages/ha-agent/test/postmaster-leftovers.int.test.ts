import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { reapLeftovers, serverProcessesIn } from '../src/internals.js';

// Issue 14: a new postmaster must not start while processes of the SIGKILLed one still run in the
// data directory (a backend busy in a query notices its postmaster's death only at its next wait).
let cluster: PgCluster;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'leftovers' });
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe('processes left by a dead postmaster', () => {
  it('are found by their working directory, stopped by PID and start time, and a new postmaster then starts', async () => {
    const busy = new pg.Client(cluster.clientConfig());
    await busy.connect();
    busy.on('error', () => undefined);
    const backend = (await busy.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // CPU-bound for minutes: it never waits on a latch, so it would outlive its postmaster.
    const running = busy.query('SELECT count(*) FROM generate_series(1, 10000000000)').catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 300));
    const before = serverProcessesIn(cluster.dataDir).map((p) => p.pid);
    expect(before).toContain(backend);
    expect(before).toContain(cluster.process.pid);

    process.kill(cluster.process.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const orphans = serverProcessesIn(cluster.dataDir).map((p) => p.pid);
    expect(orphans, 'the busy backend outlives its postmaster').toContain(backend);

    const reaped = await reapLeftovers(cluster.dataDir);
    expect(reaped.map((p) => p.pid)).toContain(backend);
    expect(serverProcessesIn(cluster.dataDir)).toEqual([]);
    expect(await reapLeftovers(cluster.dataDir), 'nothing left: nothing to wait for').toEqual([]);
    await running;
    await busy.end().catch(() => undefined);

    await cluster.start();
    expect((await cluster.query<{ ok: number }>('SELECT 1 AS ok')).rows[0]!.ok).toBe(1);
  }, 60_000);
});
