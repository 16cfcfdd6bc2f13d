import { pyStr } from './hactl-pyfmt.js';

/**
 * Column alignment as PrettyTable takes it: `l`, `r` or `c`.
 *
 * @example
 * ```ts
 * import type { Alignment } from './hactl-table.js';
 * const align: Record<string, Alignment> = { TL: 'r' };
 * ```
 */
export type Alignment = 'l' | 'r' | 'c';

/**
 * Options of `renderTable`.
 *
 * @example
 * ```ts
 * import type { TableOptions } from './hactl-table.js';
 * const options: TableOptions = { align: { TL: 'r' }, defaultAlign: 'l', title: ' Cluster: demo ' };
 * ```
 */
export interface TableOptions {
  /** Per-column alignment; columns not listed use `defaultAlign`. */
  align?: Record<string, Alignment>;
  /** Default `l` (patronictl sets `table.align = 'l'`). */
  defaultAlign?: Alignment;
  /** Text written over the start of the top border, like patronictl's ` Cluster: demo (7300...) `. */
  title?: string;
}

function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0 || (cp >= 0x300 && cp <= 0x36f)) continue; // combining marks take no column
    // East Asian wide and fullwidth ranges take two columns, as wcwidth counts them.
    if (
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd)
    )
      width += 2;
    else width += 1;
  }
  return width;
}

function justify(text: string, width: number, align: Alignment): string {
  const gap = width - displayWidth(text);
  if (gap <= 0) return text;
  if (align === 'r') return ' '.repeat(gap) + text;
  if (align === 'l') return text + ' '.repeat(gap);
  // PrettyTable centres with the odd space on the right, or on the left when the text length is odd.
  const left = gap % 2 === 1 && displayWidth(text) % 2 === 1 ? Math.ceil(gap / 2) : Math.floor(gap / 2);
  return ' '.repeat(left) + text + ' '.repeat(gap - left);
}

/**
 * Renders rows the way patronictl's PrettyTable does: `+---+` frame, one space of padding, a rule
 * under the header, and a rule after every row when some cell spans several lines.
 *
 * @example
 * ```ts
 * renderTable(['TL', 'Member'], [[2, 'pg1']], { align: { TL: 'r' } });
 * // +----+--------+
 * // | TL | Member |
 * // +----+--------+
 * // |  2 | pg1    |
 * // +----+--------+
 * ```
 */
export function renderTable(columns: readonly string[], rows: readonly (readonly unknown[])[], options: TableOptions = {}): string {
  const align = (col: string): Alignment => options.align?.[col] ?? options.defaultAlign ?? 'l';
  const cells = rows.map((row) => columns.map((_, i) => pyStr(row[i] ?? '').split('\n')));
  const widths = columns.map((col, i) => Math.max(displayWidth(col), ...cells.map((row) => Math.max(...(row[i] ?? ['']).map(displayWidth)))));
  const multiline = cells.some((row) => row.some((lines) => lines.length > 1));

  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  let top = rule;
  if (options.title && columns.length > 0) {
    const title = options.title.slice(0, Math.max(0, rule.length - 2));
    top = `${rule[0]}${title}${rule.slice(1 + title.length)}`;
  }

  const line = (parts: string[]): string => `|${parts.map((p) => ` ${p} `).join('|')}|`;
  const out: string[] = [top];
  out.push(columns.length === 0 ? '||' : line(columns.map((col, i) => justify(col, widths[i] ?? 0, align(col)))));
  out.push(rule);
  for (const row of cells) {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let h = 0; h < height; h++) out.push(line(columns.map((col, i) => justify(row[i]?.[h] ?? '', widths[i] ?? 0, align(col)))));
    if (multiline) out.push(rule);
  }
  if (!multiline || cells.length === 0) out.push(rule);
  return out.join('\n');
}
