// The detached load generator `lab load start` runs: an HAtester-style writer and reader through
// HAProxy, one line of JSON per attempt, so outages and lost writes can be computed afterwards.
import { appendFileSync } from 'node:fs';
import pg from 'pg';

const [writerPort, readerPort, runId, writerLog, readerLog, intervalArg, maxSecondsArg, nodesArg] = process.argv.slice(2);
// PostgreSQL port -> lab node name, so each line says which node served it.
const nodeByPort = new Map<number, string>(Object.entries(JSON.parse(nodesArg ?? '{}') as Record<string, string>).map(([p, n]) => [Number(p), n]));
const intervalMs = Number(intervalArg ?? 100);
const deadline = Date.now() + Number(maxSecondsArg ?? 3600) * 1000;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (file: string, record: Record<string, unknown>): void => appendFileSync(file, `${JSON.stringify(record)}\n`);

async function connect(port: number, name: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 2000,
    query_timeout: 3000,
    application_name: name,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * One loop: keeps a connection (or, with `fresh`, opens one per attempt so HAProxy's round robin
 * shows which replica answers), reconnects after any error, logs each outcome.
 */
async function loop(port: number, name: string, file: string, fresh: boolean, step: (c: pg.Client) => Promise<Record<string, unknown>>): Promise<void> {
  let client: pg.Client | undefined;
  while (!stopping && Date.now() < deadline) {
    const started = Date.now();
    try {
      client ??= await connect(port, name);
      const record = await step(client);
      log(file, { t: Date.now(), ...record });
      if (fresh) {
        await client.end().catch(() => undefined);
        client = undefined;
      }
    } catch (err) {
      log(file, { t: Date.now(), err: (err as Error).message.split('\n')[0] });
      await client?.end().catch(() => undefined);
      client = undefined;
    }
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  await client?.end().catch(() => undefined);
}

let seq = 0;
await Promise.all([
  loop(Number(writerPort), 'lab-writer', writerLog!, false, async (c) => {
    const n = ++seq;
    const r = await c.query<{ port: number }>('INSERT INTO lab_writes (run, seq) VALUES ($1, $2) RETURNING inet_server_port() AS port', [runId, n]);
    // Only a write whose COMMIT was acknowledged is logged with its seq: that is the promise made.
    return { seq: n, port: r.rows[0]?.port, node: nodeByPort.get(Number(r.rows[0]?.port)) };
  }),
  loop(Number(readerPort), 'lab-reader', readerLog!, true, async (c) => {
    const r = await c.query<{ port: number; seq: string | null }>(
      'SELECT inet_server_port() AS port, (SELECT max(seq) FROM lab_writes WHERE run = $1) AS seq',
      [runId],
    );
    return { port: r.rows[0]?.port, node: nodeByPort.get(Number(r.rows[0]?.port)), seen: Number(r.rows[0]?.seq ?? 0) };
  }),
]);
