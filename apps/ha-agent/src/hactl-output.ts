import type { ClusterView } from '@pgtools/dcs';
import { memberRows, summarizeCluster, type ClusterSummary } from './hactl-members.js';
import { pyJson, pyStr, pyYaml } from './hactl-pyfmt.js';
import { renderTable, type Alignment } from './hactl-table.js';

/**
 * Output formats of `list`, `history` (`-f`), plus `topology` (the tree view of `list`).
 *
 * @example
 * ```ts
 * import type { OutputFormat } from './hactl-output.js';
 * const f: OutputFormat = 'json';
 * ```
 */
export type OutputFormat = 'pretty' | 'tsv' | 'json' | 'yaml' | 'topology';

/**
 * The formats `-f` accepts (`yml` is patronictl's alias of `yaml`).
 *
 * @example
 * ```ts
 * OUTPUT_FORMATS.includes('tsv'); // true
 * ```
 */
export const OUTPUT_FORMATS: readonly string[] = ['pretty', 'tsv', 'json', 'yaml', 'yml'];

/**
 * patronictl's `print_output`: a table (with `title` over its top border), tab-separated lines,
 * a JSON array or a YAML list of `{column: value}` objects. With a title (the member list),
 * empty values are left out of JSON/YAML and the Cluster column is not shown in the table.
 * Returns the text to print, ending with a newline.
 *
 * @example
 * ```ts
 * formatOutput(['TL', 'LSN'], [[1, 25165984]], { TL: 'r', LSN: 'r' }, 'json'); // '[{"TL": 1, "LSN": 25165984}]\n'
 * ```
 */
export function formatOutput(columns: string[], rows: unknown[][], align: Record<string, Alignment>, fmt: OutputFormat | 'yml', title?: string): string {
  if (fmt === 'json' || fmt === 'yaml' || fmt === 'yml') {
    const elements = rows.map((r) => {
      const obj: Record<string, unknown> = {};
      columns.forEach((c, i) => {
        const v = r[i];
        if (!title || pyStr(v ?? '') !== '') obj[c] = v;
      });
      return obj;
    });
    return fmt === 'json' ? `${pyJson(elements)}\n` : `${pyYaml(elements)}\n`;
  }
  const listCluster = Boolean(title && columns[0] === 'Cluster');
  let cols = columns;
  let body = rows.map((r) => [...r]);
  if (listCluster && cols.includes('Tags')) {
    const i = cols.indexOf('Tags');
    for (const row of body) if (row[i]) row[i] = pyYaml(row[i], fmt !== 'pretty').trim();
  }
  if (listCluster && fmt !== 'tsv') {
    cols = cols.slice(1);
    body = body.map((r) => r.slice(1));
  }
  if (fmt === 'tsv') return [cols, ...body].map((r) => r.map((v) => pyStr(v ?? '')).join('\t')).join('\n') + '\n';
  return `${renderTable(cols, body, title === undefined ? { align } : { align, title })}\n`;
}

/**
 * The title over the member table: ` Cluster: <scope> (<system identifier>) `, with
 * `uninitialized` / `initializing` while there is no identifier yet (as patronictl 3.1+ prints it).
 *
 * @example
 * ```ts
 * clusterTitle('demo', '7300000000000000001'); // ' Cluster: demo (7300000000000000001) '
 * ```
 */
export function clusterTitle(name: string, initialize: string | undefined): string {
  const detail = initialize === undefined ? 'uninitialized' : initialize === '' ? 'initializing' : initialize;
  return ` Cluster: ${name} (${detail}) `;
}

/**
 * Lines patronictl prints under the table: maintenance mode and a scheduled switchover.
 *
 * @example
 * ```ts
 * serviceInfo({ members: [], pause: true }); // [' Maintenance mode: on']
 * ```
 */
export function serviceInfo(cluster: ClusterSummary): string[] {
  const info: string[] = [];
  if (cluster.pause) info.push('Maintenance mode: on');
  if (cluster.scheduled_switchover) {
    let line = `Switchover scheduled at: ${cluster.scheduled_switchover.at}`;
    for (const key of ['from', 'to'] as const) {
      const v = cluster.scheduled_switchover[key];
      if (v !== undefined) line += `\n${key.padStart(24)}: ${v}`;
    }
    info.push(line);
  }
  return info.length > 0 ? [` ${info.join('\n ')}`] : [];
}

/**
 * The member list of `list`, `topology` and the actions that show the cluster first
 * (patronictl's `output_members`), as text ending with a newline.
 *
 * @example
 * ```ts
 * process.stdout.write(formatMembers(await dcs.loadCluster(), 'demo', { fmt: 'pretty' }));
 * ```
 */
export function formatMembers(view: ClusterView, clusterName: string, options: { fmt?: OutputFormat | 'yml'; extended?: boolean } = {}): string {
  const fmt = options.fmt ?? 'pretty';
  const summary = summarizeCluster(view);
  const { columns, rows } = memberRows(summary, clusterName, { extended: options.extended ?? false, topology: fmt === 'topology' });
  let text = formatOutput(columns, rows, { 'Lag in MB': 'r', TL: 'r' }, fmt, clusterTitle(clusterName, view.initialize));
  if (fmt === 'pretty' || fmt === 'topology') for (const line of serviceInfo(summary)) text += `${line}\n`;
  return text;
}

/**
 * `history` output: TL, LSN, Reason, Timestamp, New Leader; short lines padded with empty values.
 *
 * @example
 * ```ts
 * formatHistory([[1, 25165984, 'no recovery target specified']], 'json');
 * // '[{"TL": 1, "LSN": 25165984, "Reason": "no recovery target specified", "Timestamp": "", "New Leader": ""}]\n'
 * ```
 */
export function formatHistory(lines: readonly (readonly unknown[])[], fmt: OutputFormat | 'yml'): string {
  const columns = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];
  const rows = lines.map((l) => {
    const row = l.slice(0, columns.length);
    while (row.length < columns.length) row.push('');
    return row;
  });
  return formatOutput(columns, rows, { TL: 'r', LSN: 'r' }, fmt === 'topology' ? 'pretty' : fmt);
}
