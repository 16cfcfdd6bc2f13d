import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '@pgtools/testkit';
import type pg from 'pg';

const repackBin = fileURLToPath(new URL('../../../apps/repack/bin/pgtools-repack.js', import.meta.url));

/** A writer that keeps committing while the repack runs, to show the table stays online. */
function startWriter(pool: pg.Pool, maxId: number): { stop(): Promise<{ commits: number; maxLatencyMs: number; errors: number }> } {
  let running = true;
  let commits = 0;
  let errors = 0;
  let maxLatencyMs = 0;
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        const id = 1 + Math.floor(Math.random() * maxId);
        await pool.query(`UPDATE public.orders SET status = 'paid' WHERE id = $1`, [id | 1]);
        await pool.query(`INSERT INTO public.orders (id, customer, status) VALUES ($1, 1, 'new')`, [maxId + 1 + commits]);
        commits += 2;
      } catch {
        errors++;
      }
      maxLatencyMs = Math.max(maxLatencyMs, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { commits, maxLatencyMs, errors };
    },
  };
}

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const rows = Number(process.env.DEMO_ROWS ?? 500_000);
  console.log(bold('Starting a local PostgreSQL 15 lab (temp dir, loopback port)...'));
  const cluster = await startPostgres({ name: 'demo', settings: { wal_level: 'replica' } });
  const stop = async (): Promise<void> => {
    await cluster.destroy();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const db = await cluster.createDatabase({ name: 'demo' });
    const pool = db.pool();
    console.log(`PostgreSQL running on ${cluster.connectionString('demo')} (pid ${cluster.process.pid})`);
    console.log(bold(`Creating a bloated table public.orders: ${rows} rows, every second one deleted...`));
    await pool.query(`CREATE TABLE public.orders (
      id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now())`);
    await pool.query(`CREATE INDEX orders_customer ON public.orders (customer)`);
    await pool.query(
      `INSERT INTO public.orders (id, customer, status, note)
       SELECT g, g % 1000, 'new', repeat(md5(g::text), 4) FROM generate_series(1, $1::int) g`,
      [rows],
    );
    await pool.query('DELETE FROM public.orders WHERE id % 2 = 0');
    await pool.query('VACUUM ANALYZE public.orders');
    const { rows: stats } = await pool.query<{ live: string; total: string; heap: string }>(
      `SELECT (SELECT count(*) FROM public.orders)::text AS live,
              pg_total_relation_size('public.orders')::text AS total,
              pg_relation_size('public.orders')::text AS heap`,
    );
    const s = stats[0]!;
    console.log(`public.orders: ${s.live} live rows, heap ${mb(Number(s.heap))}, with indexes ${mb(Number(s.total))}`);
    console.log(bold('Repacking it online with pgtools-repack while a writer keeps committing...'));
    console.log(`$ pgtools-repack --table public.orders ${db.connectionString}`);
    const writer = startWriter(pool, rows);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [repackBin, '--table', 'public.orders', db.connectionString], { stdio: 'inherit' });
      child.on('exit', resolve);
    });
    const load = await writer.stop();
    const { rows: after } = await pool.query<{ total: string; live: string }>(
      `SELECT pg_total_relation_size('public.orders')::text AS total, (SELECT count(*) FROM public.orders)::text AS live`,
    );
    console.log(bold('Summary'));
    console.log(`  pgtools-repack exit code ${code}`);
    console.log(`  size ${mb(Number(s.total))} -> ${mb(Number(after[0]!.total))}, ${after[0]!.live} rows`);
    console.log(`  concurrent writer: ${load.commits} commits during the repack, ${load.errors} errors, slowest ${load.maxLatencyMs} ms`);
    console.log(bold('Done. The lab is stopped and its files removed.'));
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
