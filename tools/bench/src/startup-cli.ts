// `pnpm bench:startup`: process start to first connection, pgtools-repack and ha-agent against
// pg_repack and a bare Node process, interleaved in one run (issue 20, item 5).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, packageDirFor, pgBinDir, serverUser, startEtcd, startPostgres, workspaceRoot } from '@pgtools/testkit';
import { findPgRepack } from './contenders.js';
import { describeMachine } from './machine.js';
import { compareStartup, type StartupContender, type StartupRow } from './startup.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15);

function table(rows: StartupRow[]): string {
  const lines = ['| command | runs | first connection, median | p90 | exit, median |', '|---|---|---|---|---|'];
  for (const r of rows)
    lines.push(`| ${r.name} | ${r.runs} | ${r.firstConnectMedianMs.toFixed(1)} ms | ${r.firstConnectP90Ms.toFixed(1)} ms | ${r.exitMedianMs.toFixed(1)} ms |`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const root = workspaceRoot();
  const user = serverUser();
  const pgsrv = await startPostgres({ name: 'bench-startup' });
  const etcd = await startEtcd({ members: 1 });
  const dir = await makeTempDir('bench-startup-agent', user);
  try {
    const pgTarget = { host: '127.0.0.1', port: pgsrv.port };
    const [etcdHost, etcdPort] = etcd.hosts[0]!.split(':');
    const etcdTarget = { host: etcdHost!, port: Number(etcdPort) };
    const repackCli = join(root, 'apps/repack/bin/pgtools-repack.js');
    const agentCli = join(packageDirFor('@pgtools/ha-agent-cli', resolve(root, 'apps/ha-agent'), user), 'bin', 'ha-agent.js');
    const agentConfig = (port: number): string => {
      const file = join(dir.path, `ha-${port}.yml`);
      writeFileSync(
        file,
        `scope: startup\nname: n1\nrestapi: {listen: 127.0.0.1:0, connect_address: 127.0.0.1:8008}\netcd3: {hosts: [127.0.0.1:${port}]}\n` +
          `postgresql: {listen: 127.0.0.1:1, connect_address: 127.0.0.1:1, data_dir: ${join(dir.path, 'data')}, bin_dir: ${pgBinDir()}, ` +
          `authentication: {superuser: {username: postgres}, replication: {username: replicator}}}\nwatchdog: {mode: "off"}\n`,
        { mode: 0o644 },
      );
      return file;
    };
    const ids = user ? { uid: user.uid, gid: user.gid } : {};
    const repackStatus = (name: string, bin: string): StartupContender => ({
      name,
      command: process.execPath,
      target: pgTarget,
      argsFor: (port: number) => [bin, '--status', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'],
    });
    const commands: StartupContender[] = [
      {
        name: 'node (connect only: the floor)',
        command: process.execPath,
        target: pgTarget,
        argsFor: (port: number) => ['-e', `require('net').connect(${port}, '127.0.0.1').on('connect', () => process.exit(0))`],
      },
      repackStatus('pgtools-repack --status', repackCli),
      {
        name: 'ha-agent (to etcd)',
        command: process.execPath,
        daemon: true,
        cwd: dir.path,
        ...ids,
        target: etcdTarget,
        argsFor: (port: number) => [agentCli, agentConfig(port)],
      },
    ];
    // Another build of the CLI (an older commit's, say) in the same run: before and after side by side.
    const other = process.env.BENCH_STARTUP_COMPARE;
    if (other) commands.push(repackStatus(`pgtools-repack --status (${other})`, other));
    const pgRepack = findPgRepack(pgBinDir());
    if (pgRepack)
      commands.push({
        name: 'pg_repack --dry-run',
        command: pgRepack,
        target: pgTarget,
        argsFor: (port: number) => ['--dry-run', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-t', 'no_such_table'],
      });
    const rows = await compareStartup(commands, RUNS);
    const m = describeMachine();
    console.log(`# Start-up: process start to first connection (${RUNS} runs each, interleaved)\n`);
    console.log(`${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, load average ${m.loadAverage}\n`);
    console.log(table(rows));
    if (process.env.BENCH_STARTUP_JSON) writeFileSync(process.env.BENCH_STARTUP_JSON, JSON.stringify({ machine: m, rows }, null, 2));
    return 0;
  } finally {
    await etcd.destroy();
    await pgsrv.destroy();
    dir.remove();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
