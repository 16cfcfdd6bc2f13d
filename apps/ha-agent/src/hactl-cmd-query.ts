import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { ClusterView } from '@pgtools/dcs';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { ctlError, pickedAddress, withDcs, type CtlContext } from './hactl-context.js';
import { ctlTimestamp } from './hactl-pyfmt.js';
import { queryPrinter, queryTypeParser, type QueryPrinter } from './hactl-query-output.js';

/**
 * Rows fetched per round trip (the cursor's `Execute` limit), and so the most rows hactl holds at
 * once: a few hundred keeps the round trips cheap next to the row work and the memory small even
 * for kilobyte-wide rows (the 10-million-row test in hactl-query.int.test.ts streams in flat RSS).
 */
export const QUERY_BATCH_ROWS = 500;

/** Output is written in chunks of about this many characters (or sooner, when no row is waiting). */
const FLUSH_CHARS = 64 * 1024;

/** patronictl's `connect_timeout`. */
const CONNECT_TIMEOUT_MS = 5000;

/** Roles for which patronictl checks `pg_is_in_recovery()` on the connection before it runs the query. */
const IN_RECOVERY: Record<string, boolean> = { replica: true, standby: true, 'standby-leader': true, primary: false, master: false };

/**
 * Options of `query`.
 *
 * @example
 * ```ts
 * import type { QueryOptions } from './hactl-cmd-query.js';
 * const o: QueryOptions = { cluster: 'demo', command: 'SELECT 1', fmt: 'tsv', delimiter: '\t', askPassword: false };
 * ```
 */
export interface QueryOptions {
  cluster: string;
  command?: string | undefined;
  /** A file of SQL (`-` is stdin). */
  file?: string | undefined;
  role?: string | undefined;
  member?: string | undefined;
  username?: string | undefined;
  dbname?: string | undefined;
  /** `--password`: ask for it (hidden); otherwise PGPASSWORD or ~/.pgpass, as libpq. */
  askPassword: boolean;
  fmt: string;
  delimiter: string;
  /** Seconds between runs (`-w`, or 2 with `-W`); undefined runs once. */
  watch?: number;
}

/** A failed run, printed as patronictl prints it: one row `[timestamp, message]` without a header. */
class QueryFailure extends Error {}

/**
 * `hactl query [CLUSTER] -c SQL | -f FILE`: patronictl's `query`. Connects to the leader (or the
 * first member with `-r ROLE`, or `-m MEMBER`; for replica/standby/primary it checks
 * `pg_is_in_recovery()` first, as patronictl does) with the member's host and port and the libpq
 * defaults for the rest, runs the SQL and prints the result in `--format` (tsv by default).
 *
 * Unlike patronictl, which fetches the whole result first, the rows are streamed (pg-query-stream,
 * `QUERY_BATCH_ROWS` per round trip) and written as they arrive, waiting for `out` to drain: memory
 * stays flat whatever the result's size (`--format pretty` excepted: a table needs every width).
 * A script of several statements cannot run as one cursor: it runs with the simple protocol and
 * its last result is printed, as psycopg returns it (held in memory).
 *
 * Errors print as patronictl prints them, `<time>\tERROR, SQLSTATE: <code>` (the message instead
 * of the code for a connection failure), with the server's message on stderr; exit 1 (patronictl
 * exits 0). With `-W`/`-w` it runs again every N seconds until interrupted.
 *
 * @example
 * ```ts
 * await queryCommand(ctx, { cluster: 'demo', command: 'SELECT 1 AS one', fmt: 'tsv', delimiter: '\t', askPassword: false }, process.stdout);
 * // one
 * // 1
 * ```
 */
export async function queryCommand(ctx: CtlContext, o: QueryOptions, out: Writable): Promise<number> {
  let sql: string;
  if (o.file !== undefined) {
    if (o.command !== undefined) throw ctlError('--file and --command are mutually exclusive options');
    sql = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
  } else if (o.command === undefined) {
    throw ctlError('You need to specify either --command or --file');
  } else sql = o.command;
  const password = o.askPassword ? await ctx.prompter.prompt('Password', undefined, { hidden: true }) : undefined;
  if (o.role !== undefined && o.member !== undefined) throw ctlError('--role and --member are mutually exclusive options');
  const view = await withDcs(ctx, o.cluster, (dcs) => dcs.loadCluster());

  const write = async (text: string): Promise<void> => {
    if (text !== '' && !out.write(text)) await once(out, 'drain');
  };
  for (;;) {
    let ok = true;
    try {
      await runQuery(view, o, sql, password, queryPrinter(o.fmt, o.delimiter), write);
    } catch (err) {
      ok = false;
      if (!(err instanceof QueryFailure)) throw err;
      const printer = queryPrinter(o.fmt, o.delimiter);
      await write(printer.header(undefined) + printer.row([ctlTimestamp(ctx.now(), 0), err.message]) + printer.end());
    }
    if (o.watch === undefined) return ok ? 0 : 1;
    await ctx.sleep(o.watch);
  }

  async function runQuery(
    cluster: ClusterView,
    q: QueryOptions,
    text: string,
    pw: string | undefined,
    printer: QueryPrinter,
    emit: (t: string) => Promise<void>,
  ): Promise<void> {
    const address = pickedAddress(cluster, q);
    const role = q.member !== undefined ? 'any' : (q.role ?? 'leader');
    const unavailable = (): QueryFailure =>
      new QueryFailure(
        q.member !== undefined
          ? `No connection to member ${q.member} is available`
          : q.role !== undefined
            ? `No connection to role ${q.role} is available`
            : 'No connection is available',
      );
    if (address.host === undefined) throw unavailable();
    const client = new pg.Client({
      host: address.host,
      port: address.port ?? 5432,
      ...(q.username !== undefined ? { user: q.username } : {}),
      ...(q.dbname !== undefined ? { database: q.dbname } : {}),
      ...(pw !== undefined ? { password: pw } : {}),
      fallback_application_name: 'hactl',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      types: { getTypeParser: queryTypeParser },
    } as pg.ClientConfig);
    // A lost connection also rejects the running query; this keeps it from crashing the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      const wanted = IN_RECOVERY[role];
      if (wanted !== undefined) {
        const r = await client.query<{ pg_is_in_recovery: boolean }>('SELECT pg_catalog.pg_is_in_recovery()');
        if ((r.rows[0]?.pg_is_in_recovery ?? true) !== wanted) throw unavailable();
      }
      try {
        await streamRows(client, text, printer, emit);
      } catch (err) {
        if (!(err instanceof pg.DatabaseError && err.code === '42601' && /multiple commands/.test(err.message))) throw err;
        // Several statements: the simple protocol, whose last result psycopg would return.
        const results = (await client.query({ text, rowMode: 'array' })) as unknown as pg.QueryArrayResult | pg.QueryArrayResult[];
        const last = Array.isArray(results) ? results[results.length - 1] : results;
        const fields = last?.fields ?? [];
        let chunk = printer.header(fields.length > 0 ? fields.map((f) => f.name) : undefined);
        for (const row of last?.rows ?? []) chunk += printer.row(row);
        await emit(chunk + printer.end());
      }
    } catch (err) {
      if (err instanceof QueryFailure) throw err;
      const cause = err instanceof MidStreamError ? err.error : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      if (cause instanceof pg.DatabaseError) ctx.err(`${cause.severity ?? 'ERROR'}:  ${message}\n`);
      else ctx.err(`${message}\n`);
      // psycopg's `diag.sqlstate`, or the message when there is none (a connection failure).
      throw new QueryFailure(`ERROR, SQLSTATE: ${(cause instanceof pg.DatabaseError && cause.code) || message.replace(/\n/g, ' ')}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * Streams `sql`'s rows through `printer` into `emit`, in chunks of about `FLUSH_CHARS`. An error
 * before the first row rejects as it is (nothing was printed); after rows were printed, the output
 * so far is ended (closing a JSON array) and it rejects as `MidStreamError`.
 */
async function streamRows(client: pg.Client, sql: string, printer: QueryPrinter, emit: (t: string) => Promise<void>): Promise<void> {
  const stream = client.query(new QueryStream(sql, [], { batchSize: QUERY_BATCH_ROWS, rowMode: 'array' }));
  const fieldNames = (): string[] => ((stream.cursor as { _result: { fields: Array<{ name: string }> } })._result.fields ?? []).map((f) => f.name);
  let chunk = '';
  let headed = false;
  try {
    for await (const row of stream as AsyncIterable<unknown[]>) {
      if (!headed) {
        chunk += printer.header(fieldNames());
        headed = true;
      }
      chunk += printer.row(row);
      // Written when big enough, or when no further row is buffered: rows show as they arrive.
      if (chunk.length >= FLUSH_CHARS || stream.readableLength === 0) {
        await emit(chunk);
        chunk = '';
      }
    }
  } catch (err) {
    if (!headed) throw err;
    await emit(chunk + printer.end());
    throw new MidStreamError(err);
  }
  if (!headed) {
    const names = fieldNames();
    chunk += printer.header(names.length > 0 ? names : undefined);
  }
  await emit(chunk + printer.end());
}

/** An error after rows were printed: the caller prints the error row after them. */
class MidStreamError extends Error {
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
  }
}
