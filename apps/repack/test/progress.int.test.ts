import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack, type ProgressRow } from '@pgtools/repack';

// Progress that anyone can see (issue 20): another session watches a repack under a writer
// through pgtools.progress, pg_stat_activity and the real CLI's --status; a killed run is shown
// as interrupted and --cleanup removes its row.
const bin = new URL('../bin/pgtools-repack.js', import.meta.url).pathname;
const paused = new URL('./fixtures/paused-repack.mjs', import.meta.url).pathname;
const DB = 'progress db';
let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'progress' });
  db = await cluster.createDatabase({ name: DB });
  pool = db.pool({ max: 6 });
  await pool.query(`CREATE TABLE public."Big Orders" (id bigint PRIMARY KEY, a int, b text);
    INSERT INTO public."Big Orders" SELECT g, g, repeat('x', 60) FROM generate_series(1, 60000) g;
    CREATE TABLE public.killed (id bigint PRIMARY KEY, a int, b text);
    INSERT INTO public.killed SELECT g, g, repeat('y', 60) FROM generate_series(1, 20000) g;
    ANALYZE`);
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await cluster?.destroy();
});

function cli(args: string[], user = 'postgres'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: user, PGDATABASE: DB },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Seen {
  phase: string;
  rows_copied: number;
  rows_total_estimate: number | null;
  log_backlog: number | null;
  eta_seconds: number | null;
  pid: number;
  updated_at: string;
}

/** What another session sees every 100 ms: the progress rows and our sessions' application_name. */
function watch(): { stop(): Promise<void>; rows: Seen[]; names: Set<string>; pidNames: Map<number, Set<string>> } {
  const rows: Seen[] = [];
  const names = new Set<string>();
  const pidNames = new Map<number, Set<string>>();
  let running = true;
  const loop = (async () => {
    const client = new pg.Client(cluster.clientConfig(DB));
    await client.connect();
    try {
      while (running) {
        const { rows: acts } = await client.query<{ pid: number; application_name: string }>(
          `SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'pgtools-repack %'`,
        );
        for (const a of acts) {
          names.add(a.application_name);
          if (!pidNames.has(a.pid)) pidNames.set(a.pid, new Set());
          pidNames.get(a.pid)?.add(a.application_name);
        }
        const { rows: present } = await client.query<{ t: boolean }>(`SELECT to_regclass('pgtools.progress') IS NOT NULL AS t`);
        if (present[0]?.t) {
          const r = await client
            .query<Seen>(
              `SELECT phase, rows_copied::float8 AS rows_copied, rows_total_estimate::float8 AS rows_total_estimate, log_backlog::float8 AS log_backlog,
                      eta_seconds, pid, updated_at::text AS updated_at FROM pgtools.progress`,
            )
            .catch(() => ({ rows: [] as Seen[] }));
          rows.push(...r.rows);
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    rows,
    names,
    pidNames,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Updates and inserts as fast as a client goes, with a short pause, until stopped. */
function writer(table: string): { stop(): Promise<number>; errors: Error[] } {
  let running = true;
  const errors: Error[] = [];
  let n = 0;
  const loop = (async () => {
    while (running) {
      n++;
      await pool
        .query(`UPDATE ${table} SET a = a + 1 WHERE id = $1`, [1 + ((n * 7919) % 60000)])
        .then(() => pool.query(`INSERT INTO ${table} (id, a, b) VALUES ($1, 1, 'new')`, [1_000_000 + n]))
        .catch((err: Error) => errors.push(err));
      await new Promise((res) => setTimeout(res, 2));
    }
  })();
  return {
    errors,
    async stop() {
      running = false;
      await loop;
      return n;
    },
  };
}

describe('progress from another session', () => {
  it('shows the running table with its phases, growing row count and application_name; the row goes at the end', async () => {
    const w = writer('public."Big Orders"');
    const watcher = watch();
    let status: Promise<{ code: number | null; stdout: string; stderr: string }> | undefined;
    const warnings: string[] = [];
    // A transaction whose snapshot predates the copy's commit holds the run in snapshot-wait for a
    // while, so that a phase after the copy lasts long enough to be written (once a second).
    const holder = await pool.connect();
    let held: Promise<unknown> | undefined;
    const run = repack(cluster.clientConfig(DB), {
      table: 'public."Big Orders"',
      // Paced chunks stretch the copy over a few seconds, so the watcher sees it grow.
      copyChunkPages: 16,
      maxRate: 15_000,
      switchThreshold: 50,
      logger: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} },
      onEvent: (e) => {
        // Once the copy is under way, the real CLI looks from its own process.
        if (e.type === 'copy-progress' && e.rowsDone > 20_000 && !status) status = cli(['--status', '--json', DB]);
        if (e.type === 'copy-progress' && !held) held = holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class');
        if (e.type === 'phase-start' && e.phase === 'snapshot-wait') setTimeout(() => void held?.then(() => holder.query('COMMIT')), 2500);
      },
    });
    const result = await run;
    holder.release();
    await watcher.stop();
    await w.stop();
    expect(result.tables[0]?.status, result.tables[0]?.message).toBe('repacked');
    expect(w.errors).toEqual([]);
    expect(warnings).toEqual([]);

    // The CLI saw the run.
    const shown = await status;
    expect(shown?.code, shown?.stderr).toBe(0);
    const doc = JSON.parse(shown?.stdout ?? '{}') as { tables: ProgressRow[] };
    expect(doc.tables).toHaveLength(1);
    expect(doc.tables[0]).toMatchObject({ schema: 'public', table: 'Big Orders', interrupted: false });
    expect(doc.tables[0]?.rowsCopied).toBeGreaterThan(0);

    // The watcher saw the phases change and the copy grow, at most one write a second.
    const phases = [...new Set(watcher.rows.map((r) => r.phase))];
    expect(phases).toEqual(expect.arrayContaining(['copy', 'snapshot-wait']));
    expect(phases.indexOf('copy')).toBeLessThan(phases.indexOf('snapshot-wait'));
    const copied = [...new Set(watcher.rows.filter((r) => r.phase === 'copy').map((r) => r.rows_copied))];
    expect(copied.length).toBeGreaterThanOrEqual(3);
    expect([...copied].sort((a, b) => a - b)).toEqual(copied);
    expect(watcher.rows.some((r) => r.phase === 'copy' && r.eta_seconds !== null)).toBe(true);
    expect(Math.max(...watcher.rows.map((r) => r.rows_total_estimate ?? 0))).toBeGreaterThan(50_000);
    // The writer's changes captured during the copy: the backlog the apply works through.
    expect(watcher.rows.some((r) => r.phase === 'snapshot-wait' && r.log_backlog !== null)).toBe(true);
    const writes = [...new Set(watcher.rows.map((r) => r.updated_at))].map((t) => Date.parse(t.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')));
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(950);
    // The row's pid is the run's work connection, named after the table and the phase.
    const pid = watcher.rows[0]?.pid ?? -1;
    expect(watcher.pidNames.get(pid)).toContain('pgtools-repack public.Big Orders copy');
    expect([...watcher.names]).toEqual(
      expect.arrayContaining([
        'pgtools-repack public.Big Orders copy',
        'pgtools-repack public.Big Orders snapshot-wait',
        'pgtools-repack public.Big Orders progress',
      ]),
    );
    for (const name of watcher.names)
      expect(name).toMatch(/^pgtools-repack public\.Big Orders (precheck|setup|copy|indexes|apply|snapshot-wait|swap|cleanup|analyze|ddl-guard|progress)$/);

    // Gone at the end, the table with it.
    const { rows } = await pool.query(`SELECT to_regclass('pgtools.progress') AS t`);
    expect(rows[0].t).toBeNull();
    const after = await cli(['--status', DB]);
    expect(after.code).toBe(0);
    expect(after.stdout.trim()).toBe('no repack running');
  }, 60_000);

  it('a killed run is shown as interrupted by --status, and --cleanup removes its row', async () => {
    const child = spawn(process.execPath, [paused, db.connectionString, 'public.killed', 'during-copy'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('PAUSED ')) resolve();
      });
    });
    const row = async (): Promise<{ phase: string; pid: number } | undefined> =>
      (await pool.query<{ phase: string; pid: number }>(`SELECT phase, pid FROM pgtools.progress WHERE table_name = 'killed'`)).rows[0];
    for (let i = 0; i < 40 && (await row())?.phase !== 'copy'; i++) await new Promise((r) => setTimeout(r, 100));
    const live = await cli(['--status', DB]);
    expect(live.stdout).toMatch(/^public\.killed\s+running\s+copy\s/m);

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const pid = (await row())?.pid;
    for (let i = 0; i < 50; i++) {
      const { rows } = await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rows.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const dead = await cli(['--status', DB]);
    expect(dead.code).toBe(0);
    expect(dead.stdout).toMatch(/^public\.killed\s+interrupted\s+copy\s/m);
    expect(dead.stdout).toContain('0 running, 1 interrupted (run pgtools-repack --cleanup');
    const json = JSON.parse((await cli(['--status', '--json', DB])).stdout) as { tables: ProgressRow[] };
    expect(json.tables).toMatchObject([{ table: 'killed', interrupted: true, pid }]);

    const cleanup = await cli(['--cleanup', DB]);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain(`INFO: removed progress row of public.killed (interrupted run, PID ${pid})`);
    expect((await cli(['--status', DB])).stdout.trim()).toBe('no repack running');
    const { rows } = await pool.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools'`);
    expect(rows).toEqual([]);
  }, 60_000);

  it('a role that cannot write the progress table still repacks, with one warning', async () => {
    await pool.query(`CREATE ROLE alice LOGIN;
      GRANT CREATE ON DATABASE "${DB}" TO alice;
      GRANT USAGE, CREATE ON SCHEMA pgtools, public TO alice;
      CREATE TABLE public.alices (id int PRIMARY KEY, v text);
      INSERT INTO public.alices SELECT g, 'v' FROM generate_series(1, 1000) g;
      ALTER TABLE public.alices OWNER TO alice`);
    // A superuser's run holds the progress table (owned by postgres, readable by all) while alice runs.
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let holding: () => void = () => {};
    const held = new Promise<void>((r) => (holding = r));
    const other = repack(cluster.clientConfig(DB), {
      table: 'public.killed',
      pausePoint: async (point) => {
        if (point !== 'after-copy') return;
        holding();
        await gate;
      },
    });
    await held;
    const r = await cli(['-t', 'public.alices', DB], 'alice');
    const seen = await cli(['--status', '--json', DB], 'alice');
    release();
    expect((await other).tables[0]?.status).toBe('repacked');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/progress is not recorded in pgtools\.progress/g)).toHaveLength(1);
    expect(r.stderr).toContain('permission denied');
    expect(r.stderr).toMatch(/"public\.alices" repacked in/);
    // Alice can read what runs, even though she could not write her own row.
    expect((JSON.parse(seen.stdout) as { tables: ProgressRow[] }).tables).toMatchObject([{ table: 'killed', interrupted: false }]);
  }, 60_000);
});
