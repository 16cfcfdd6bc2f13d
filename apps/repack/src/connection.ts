import type pg from 'pg';
import type { CliOptions } from './args.js';

/**
 * libpq-style connection settings: a URI or `key=value` string as DBNAME, else -h -p -U -d,
 * else DATABASE_URL; anything still missing comes from PG* variables and ~/.pgpass (node-postgres).
 */
export function connectionConfig(conn: CliOptions['connection'], env: NodeJS.ProcessEnv, password?: string): pg.ClientConfig {
  const dbname = conn.dbname;
  const isUri = (s: string): boolean => /^postgres(ql)?:\/\//.test(s);
  let config: pg.ClientConfig;
  if (dbname && isUri(dbname)) {
    config = { connectionString: dbname };
  } else if (dbname && /^\s*\w+\s*=/.test(dbname)) {
    config = parseKeywordValue(dbname);
  } else if (!dbname && !conn.host && !conn.port && !conn.user && env.DATABASE_URL) {
    config = { connectionString: env.DATABASE_URL };
  } else {
    config = {};
    if (dbname) config.database = dbname;
  }
  if (conn.host) config.host = conn.host;
  if (conn.port) config.port = conn.port;
  if (conn.user) config.user = conn.user;
  if (password !== undefined) config.password = password;
  return config;
}

/** `host=... port=... dbname=... user=... password=...` as libpq accepts it (single-quoted values allowed). */
function parseKeywordValue(text: string): pg.ClientConfig {
  const config: pg.ClientConfig = {};
  const re = /(\w+)\s*=\s*(?:'((?:\\.|[^'])*)'|(\S+))/g;
  for (const m of text.matchAll(re)) {
    const key = m[1]!;
    const value = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    if (key === 'host') config.host = value;
    else if (key === 'port') config.port = Number(value);
    else if (key === 'dbname') config.database = value;
    else if (key === 'user') config.user = value;
    else if (key === 'password') config.password = value;
    else if (key === 'application_name') config.application_name = value;
  }
  return config;
}

/** Reads a password from the terminal without echo (for -W). */
export async function promptPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new Error('-W needs a terminal to ask for the password; use PGPASSWORD or ~/.pgpass instead');
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
