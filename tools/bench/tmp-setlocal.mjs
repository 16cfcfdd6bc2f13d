import { startPostgres } from '@pgtools/testkit';
import pg from 'pg';
const cluster = await startPostgres({ name: 'setlocal' });
try {
  const c = new pg.Client(cluster.clientConfig('postgres')); await c.connect();
  c.on('notice', (n) => console.log('NOTICE', n.severity, n.message));
  const r = await c.query('SET LOCAL synchronous_commit = off; SELECT current_setting($$synchronous_commit$$) AS s');
  console.log(r[1].rows);
  console.log((await c.query('SHOW synchronous_commit')).rows);
  await c.end();
} finally { await cluster.destroy(); }
