import { repack } from '@pgtools/repack';
import { startPostgres } from '@pgtools/testkit';
import pg from 'pg';
const cluster = await startPostgres({ name: 'count' });
try {
  const c = new pg.Client(cluster.clientConfig('postgres')); await c.connect();
  await c.query(`CREATE TABLE t1 (id bigint PRIMARY KEY, a int, p text); INSERT INTO t1 SELECT g, g%100, md5(g::text) FROM generate_series(1,40000) g; CREATE INDEX ON t1(a); DELETE FROM t1 WHERE id%2=0; `); await c.query('VACUUM ANALYZE t1');
  await c.end();
  let phase = 'pre'; const counts = {}; const texts = {};
  const r = await repack(cluster.clientConfig('postgres'), { table: 'public.t1', onEvent: (e) => { if (e.type === 'phase-start') phase = e.phase; }, onQuery: (sql) => { counts[phase] = (counts[phase] ?? 0) + 1; (texts[phase] ??= []).push(sql.replace(/\s+/g, ' ').slice(0, 110)); } });
  console.log(r.tables[0].status, r.tables[0].phases.map(p => p.phase + ' ' + p.ms).join(', '));
  console.log(counts);
  if (process.argv[2]) for (const s of texts[process.argv[2]] ?? []) console.log('  ', s);
} catch (e) { console.log('ERR', e); } finally { await cluster.destroy(); }
