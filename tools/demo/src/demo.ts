import { startPostgres } from '@pgtools/testkit';

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const rows = Number(process.env.DEMO_ROWS ?? 200_000);
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
    console.log(bold('Done. The lab is stopped and its files removed.'));
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
