import { repack } from '@pgtools/repack';
import { startPostgres } from '@pgtools/testkit';
import pg from 'pg';
const cluster = await startPostgres({ name: 'prof' });
try {
  const c = new pg.Client(cluster.clientConfig('postgres')); await c.connect();
  for (const t of ['t1','t2','t3']) { await c.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, a int, p text); INSERT INTO ${t} SELECT g, g%100, md5(g::text) FROM generate_series(1,40000) g; CREATE INDEX ON ${t}(a); DELETE FROM ${t} WHERE id%2=0;`); await c.query(`VACUUM ANALYZE ${t}`); }
  await c.end();
  let phase = 'pre'; let last = null; const log = [];
  const want = process.argv[2];
  const r = await repack(cluster.clientConfig('postgres'), { tables: ['t1','t2','t3'], onEvent: (e) => { if (e.type === 'phase-start') phase = e.phase; }, onQuery: (sql) => { const now = performance.now(); if (last) last.ms = now - last.t; last = { t: now, phase, sql: sql.replace(/\s+/g, ' ').slice(0, 100) }; log.push(last); } });
  console.log(r.tables.map(t => t.phases.map(p => p.phase + ' ' + p.ms).join(', ')).join('\n'));
  for (const l of log.slice(log.length * 2 / 3)) if (want === "all" ? (l.ms ?? 0) > 0.9 : l.phase === want) console.log((l.ms ?? 0).toFixed(2).padStart(7), l.phase.padEnd(10), l.sql);
} finally { await cluster.destroy(); }
