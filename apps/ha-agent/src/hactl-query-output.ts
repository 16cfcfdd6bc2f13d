import { pyJson, pyStr, pyYaml } from './hactl-pyfmt.js';
import { renderTable } from './hactl-table.js';

/**
 * The output formats of `query --format` (patronictl's `print_output`; `yml` is its alias of `yaml`).
 *
 * @example
 * ```ts
 * QUERY_FORMATS.includes('tsv'); // true
 * ```
 */
export const QUERY_FORMATS: readonly string[] = ['pretty', 'tsv', 'json', 'yaml', 'yml'];

/**
 * A number column's value as the server sent it (int8 and numeric do not fit a JS number): printed
 * as that text, and as a bare number in JSON, as Python prints the int / float psycopg returns.
 *
 * @example
 * ```ts
 * new SqlNumber('9007199254740993').text; // '9007199254740993'
 * ```
 */
export class SqlNumber {
  constructor(readonly text: string) {}
}

/**
 * PostgreSQL type OIDs read as something other than text, as psycopg hands them to patronictl:
 * bool (16) → boolean, int8/int2/int4/oid/float4/float8/numeric → `SqlNumber`, json/jsonb → parsed.
 */
const NUMBER_OIDS = new Set([20, 21, 23, 26, 700, 701, 1700]);
const JSON_OIDS = new Set([114, 3802]);

/**
 * The `types` of the query connection: every value stays text except booleans, numbers and JSON
 * (see `SqlNumber`); timestamps, arrays and the rest print as the server's text.
 *
 * @example
 * ```ts
 * queryTypeParser(16)('t'); // true
 * ```
 */
export function queryTypeParser(oid: number): (text: string) => unknown {
  if (oid === 16) return (t) => t === 't';
  if (NUMBER_OIDS.has(oid)) return (t) => new SqlNumber(t);
  if (JSON_OIDS.has(oid)) return (t) => JSON.parse(t) as unknown;
  return (t) => t;
}

/** Python's `str()` of a cell: `None`, `True`, the number's text, dicts in repr form. */
function cellText(v: unknown): string {
  return v instanceof SqlNumber ? v.text : pyStr(v);
}

/** A cell for `json.dumps` / `yaml.safe_dump`: numbers as numbers when a JS number holds them exactly. */
function cellValue(v: unknown): unknown {
  if (!(v instanceof SqlNumber)) return v;
  const n = Number(v.text);
  return String(n) === v.text ? n : v.text;
}

function cellJson(v: unknown): string {
  // int8 / numeric beyond 2^53 keep every digit: JSON numbers have no precision limit.
  return v instanceof SqlNumber ? v.text : pyJson(v);
}

/**
 * Prints a result as it streams: `header` once the columns are known (undefined: the statement
 * returned no result set, or an error row follows), `row` per row, `end` after the last. Each
 * returns the text to write. Only `pretty` holds the rows until `end`: a table needs every width.
 */
export interface QueryPrinter {
  header(columns: string[] | undefined): string;
  row(values: readonly unknown[]): string;
  end(): string;
}

/**
 * patronictl's `print_output` for `query`, one row at a time: `tsv` (header line, then values
 * joined by `delimiter`), `json` (an array of `{column: value}`), `yaml` (a list of mappings,
 * keys sorted) and `pretty` (a table; without columns PrettyTable's `Field 1`, `Field 2`).
 * The concatenated text equals what patronictl prints for the whole result.
 *
 * @example
 * ```ts
 * const p = queryPrinter('tsv', '\t');
 * p.header(['a', 'b']) + p.row([new SqlNumber('1'), null]) + p.end(); // 'a\tb\n1\tNone\n'
 * ```
 */
export function queryPrinter(fmt: string, delimiter: string): QueryPrinter {
  let columns: string[] = [];
  let count = 0;
  const object = (values: readonly unknown[], cell: (v: unknown) => unknown): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    columns.forEach((c, i) => (o[c] = cell(values[i])));
    return o;
  };
  if (fmt === 'json') {
    return {
      header: (cols) => ((columns = cols ?? []), ''),
      row: (values) => {
        const o = object(values, (v) => v);
        const text = `{${Object.entries(o)
          .map(([k, v]) => `${pyJson(k)}: ${cellJson(v)}`)
          .join(', ')}}`;
        return `${count++ === 0 ? '[' : ', '}${text}`;
      },
      end: () => (count === 0 ? '[]\n' : ']\n'),
    };
  }
  if (fmt === 'yaml' || fmt === 'yml') {
    return {
      header: (cols) => ((columns = cols ?? []), ''),
      row: (values) => (count++, pyYaml([object(values, cellValue)])),
      // click.echo adds a newline after the dump's own.
      end: () => (count === 0 ? '[]\n\n' : '\n'),
    };
  }
  if (fmt === 'pretty') {
    const rows: string[][] = [];
    let named = false;
    return {
      header: (cols) => ((named = cols !== undefined), (columns = cols ?? []), ''),
      row: (values) => (rows.push(values.map(cellText)), ''),
      end: () => {
        if (!named && rows.length === 0) return '\n';
        const width = Math.max(columns.length, ...rows.map((r) => r.length));
        const cols = named ? columns : Array.from({ length: width }, (_, i) => `Field ${i + 1}`);
        return `${renderTable(cols, rows)}\n`;
      },
    };
  }
  return {
    header: (cols) => (cols && cols.length > 0 ? `${cols.join(delimiter)}\n` : ''),
    row: (values) => `${values.map(cellText).join(delimiter)}\n`,
    end: () => '',
  };
}
