import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

// The README's first command: the seed article's lab, an online repack on its primary under load,
// a switchover and a primary kill, then a summary. Everything it starts is the lab's, stopped by PID.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const labCli = `${root}tools/lab/dist/cli.js`;
const repackBin = `${root}apps/repack/bin/pgtools-repack.js`;
const keep = process.argv.includes('--keep');
const rows = Number(process.env.DEMO_ROWS ?? 300_000);

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function run(file: string, args: string[], capture = false): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: root, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

async function lab(args: string[]): Promise<void> {
  const { code } = await run(labCli, args);
  if (code !== 0) throw new Error(`lab ${args.join(' ')} failed (exit ${code})`);
}

interface ChaosReport {
  scenario: string;
  leaderBefore?: string;
  leaderAfter?: string;
  impact?: { outageMs: number; acknowledged: number; lost: unknown[] };
}

async function chaos(scenario: string): Promise<ChaosReport> {
  console.log(bold(`\n$ pnpm lab chaos ${scenario}`));
  const { code, stdout } = await run(labCli, ['chaos', scenario, '--json'], true);
  if (code !== 0) throw new Error(`lab chaos ${scenario} failed (exit ${code})`);
  const report = JSON.parse(stdout) as ChaosReport;
  console.log(
    `${report.leaderBefore ?? '?'} -> ${report.leaderAfter ?? '?'}: write outage through HAProxy ${secs(report.impact?.outageMs ?? 0)}, ` +
      `${report.impact?.acknowledged ?? 0} writes acknowledged, ${report.impact?.lost.length ?? 0} lost`,
  );
  return report;
}

async function main(): Promise<void> {
  const wasRunning = existsSync(`${root}.lab/state.json`);
  console.log(bold('$ pnpm lab up   (etcd x3, three ha-agents with PostgreSQL 15, HAProxy; all on loopback)'));
  await lab(['up']);
  try {
    const state = JSON.parse(readFileSync(`${root}.lab/state.json`, 'utf8')) as { haproxy: { writerPort: number } };
    const writer = `postgresql://postgres:postgres@127.0.0.1:${state.haproxy.writerPort}/postgres`;
    console.log(bold('\n$ pnpm lab load start   (a writer and a reader through HAProxy, every write logged)'));
    await lab(['load', 'start']);

    console.log(bold(`\nCreating a bloated table public.demo_orders on the primary: ${rows} rows, every second one deleted...`));
    const client = new pg.Client({ connectionString: writer });
    await client.connect();
    await client.query('DROP TABLE IF EXISTS public.demo_orders');
    await client.query(`CREATE TABLE public.demo_orders (id bigint PRIMARY KEY, customer int NOT NULL, note text)`);
    await client.query(`CREATE INDEX demo_orders_customer ON public.demo_orders (customer)`);
    await client.query(`INSERT INTO public.demo_orders SELECT g, g % 1000, repeat(md5(g::text), 4) FROM generate_series(1, $1::int) g`, [rows]);
    await client.query('DELETE FROM public.demo_orders WHERE id % 2 = 0');
    await client.query('VACUUM ANALYZE public.demo_orders');
    const size = async (): Promise<number> =>
      Number((await client.query<{ s: string }>(`SELECT pg_total_relation_size('public.demo_orders')::text AS s`)).rows[0]!.s);
    const before = await size();

    console.log(bold(`\n$ pgtools-repack --table public.demo_orders ${writer}`));
    const t0 = Date.now();
    const repacked = await run(repackBin, ['--table', 'public.demo_orders', writer]);
    const repackMs = Date.now() - t0;
    const after = await size();
    await client.end();

    const switchover = await chaos('switchover');
    const kill = await chaos('kill-primary');
    console.log(bold('\n$ pnpm lab load stop'));
    await lab(['load', 'stop']);

    const lost = (switchover.impact?.lost.length ?? 0) + (kill.impact?.lost.length ?? 0);
    console.log(bold('\nSummary'));
    console.log('| step | result |');
    console.log('|---|---|');
    console.log(
      `| online repack of public.demo_orders | exit ${repacked.code}, ${secs(repackMs)}, ${mb(before)} -> ${mb(after)} (${mb(before - after)} reclaimed) |`,
    );
    console.log(
      `| switchover ${switchover.leaderBefore} -> ${switchover.leaderAfter} | write outage ${secs(switchover.impact?.outageMs ?? 0)} through HAProxy |`,
    );
    console.log(
      `| primary ${kill.leaderBefore} killed (agent + postmaster) | write outage ${secs(kill.impact?.outageMs ?? 0)}, new leader ${kill.leaderAfter} |`,
    );
    console.log(`| acknowledged writes lost | ${lost} |`);
    if (lost > 0) {
      console.log(
        'The lab replicates asynchronously: a primary killed outright can take its last acknowledged writes with it ' +
          '(bounded by maximum_lag_on_failover). Synchronous mode, which loses none, is not built yet.',
      );
    }
    if (repacked.code !== 0) process.exitCode = 1;
  } finally {
    if (keep || wasRunning) {
      console.log(bold('\nThe lab keeps running. Keep playing:'));
      console.log('  pnpm lab status | pnpm lab watch | pnpm lab chaos kill-postmaster | pnpm lab chaos switchover | pnpm lab down --clean');
    } else {
      console.log(bold('\n$ pnpm lab down --clean'));
      await lab(['down', '--clean']);
      console.log('To keep playing: npm run demo -- --keep, then pnpm lab status | watch | chaos ... | down --clean');
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
