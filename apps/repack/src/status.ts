import type { ProgressRow } from '@pgtools/repack';

const count = (n: number | null): string => (n === null ? '?' : String(Math.round(n)));
const duration = (s: number | null): string =>
  s === null
    ? '-'
    : s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
        : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;

/**
 * `--status`: the progress rows as a table, like the end-of-run summary; a run whose backend is gone
 * says "interrupted" (`--cleanup` removes it).
 *
 * @example
 * ```ts
 * statusLines([]); // => ['no repack running']
 * ```
 */
export function statusLines(rows: readonly ProgressRow[]): string[] {
  if (rows.length === 0) return ['no repack running'];
  const header = ['table', 'state', 'phase', 'rows copied', 'log backlog', 'eta', 'pid', 'started', 'updated'];
  const cells = rows.map((r) => [
    `${r.schema}.${r.table}`,
    r.interrupted ? 'interrupted' : 'running',
    r.phase,
    r.rowsTotalEstimate === null ? count(r.rowsCopied) : `${count(r.rowsCopied)} / ${count(r.rowsTotalEstimate)}`,
    count(r.logBacklog).replace('?', '-'),
    r.interrupted ? '-' : duration(r.etaSeconds),
    String(r.pid),
    r.startedAt.replace(/\.\d+/, ''),
    r.updatedAt.replace(/\.\d+/, ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const interrupted = rows.filter((r) => r.interrupted).length;
  return [
    line(header),
    ...cells.map(line),
    `${rows.length} table(s): ${rows.length - interrupted} running, ${interrupted} interrupted${interrupted > 0 ? ' (run pgtools-repack --cleanup to remove what they left)' : ''}`,
  ];
}
