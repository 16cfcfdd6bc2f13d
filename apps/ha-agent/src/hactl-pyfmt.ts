/**
 * Output helpers that reproduce what patronictl (Python) prints, so scripts written against
 * patronictl's output keep working: `json.dumps` spacing and ASCII escaping, `str()` of values,
 * `yaml.safe_dump` layout (sorted keys, unindented sequences), banker's rounding, timestamps.
 */

/**
 * `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, non-ASCII escaped.
 *
 * @example
 * ```ts
 * pyJson({ a: [1, 'é'] }); // '{"a": [1, "\\u00e9"]}'
 * ```
 */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`)
      .join(', ')}}`;
  }
  return pyJson(String(value));
}

/**
 * Python's `str()` of a table cell: `True`/`False`/`None`, dicts and lists in repr form.
 *
 * @example
 * ```ts
 * pyStr(true); // 'True'
 * pyStr(''); // ''
 * ```
 */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  return pyRepr(value);
}

function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value.includes("'") && !value.includes('"') ? `"${value}"` : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/**
 * Python 3 `round()`: halves go to the even neighbour (`round(2.5) == 2`).
 *
 * @example
 * ```ts
 * roundHalfEven(5.5); // 6
 * roundHalfEven(4.5); // 4
 * ```
 */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// Strings PyYAML's resolver would read back as something else (YAML 1.1), so it quotes them.
const YAML11_SPECIAL = /^(?:~|null|Null|NULL|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|=|<<)$/;
const YAML11_INT = /^[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const YAML11_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const YAML11_TIMESTAMP =
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/;

function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '.nan';
    if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
    return String(value);
  }
  const s = String(value);
  // Control characters and line breaks: PyYAML switches to a double-quoted scalar.
  if (/[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/.test(s)) return JSON.stringify(s);
  const needsQuotes =
    s === '' ||
    YAML11_SPECIAL.test(s) ||
    YAML11_INT.test(s) ||
    YAML11_FLOAT.test(s) ||
    YAML11_TIMESTAMP.test(s) ||
    /^[-?:,[\]{}#&*!|>'"%@`]/.test(s) ||
    /^[-?:](?:\s|$)/.test(s) ||
    /:(?:\s|$)/.test(s) ||
    /\s#/.test(s) ||
    /^\s|\s$/.test(s) ||
    s.includes('\t');
  return needsQuotes ? `'${s.replace(/'/g, "''")}'` : s;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sortedEntries(value: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (isMapping(value))
    return `{${sortedEntries(value)
      .map(([k, v]) => `${yamlScalar(k)}: ${flow(v)}`)
      .join(', ')}}`;
  return yamlScalar(value);
}

function block(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    const lines: string[] = [];
    for (const item of value) {
      if ((isMapping(item) && Object.keys(item).length > 0) || (Array.isArray(item) && item.length > 0)) {
        const inner = block(item, `${indent}  `);
        lines.push(`${indent}- ${(inner[0] ?? '').slice(indent.length + 2)}`, ...inner.slice(1));
      } else {
        lines.push(`${indent}- ${flow(item)}`);
      }
    }
    return lines;
  }
  if (isMapping(value)) {
    const entries = sortedEntries(value);
    if (entries.length === 0) return [`${indent}{}`];
    const lines: string[] = [];
    for (const [k, v] of entries) {
      if (isMapping(v) && Object.keys(v).length > 0) lines.push(`${indent}${yamlScalar(k)}:`, ...block(v, `${indent}  `));
      // PyYAML does not indent a sequence under its mapping key.
      else if (Array.isArray(v) && v.length > 0) lines.push(`${indent}${yamlScalar(k)}:`, ...block(v, indent));
      else lines.push(`${indent}${yamlScalar(k)}: ${flow(v)}`);
    }
    return lines;
  }
  return [`${indent}${yamlScalar(value)}`];
}

/**
 * `yaml.safe_dump(value, default_flow_style=flowStyle)` as patronictl formats configuration and
 * `-f yaml` output: keys sorted, sequences not indented under their key, a final newline.
 *
 * @example
 * ```ts
 * pyYaml({ ttl: 30, postgresql: { use_slots: true } });
 * // 'postgresql:\n  use_slots: true\nttl: 30\n'
 * pyYaml({ nofailover: true }, true); // '{nofailover: true}\n'
 * ```
 */
export function pyYaml(value: unknown, flowStyle = false): string {
  if (flowStyle || (!isMapping(value) && !Array.isArray(value))) {
    const text = flow(value);
    // A bare scalar document ends with PyYAML's explicit document end marker.
    return isMapping(value) || Array.isArray(value) ? `${text}\n` : `${text}\n...\n`;
  }
  return `${block(value, '').join('\n')}\n`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * patronictl's `timestamp(precision)`: local time `YYYY-MM-DD HH:MM:SS.fffff` (precision 6 keeps
 * five fraction digits, as Python's slicing does), or seconds only with precision 0.
 *
 * @example
 * ```ts
 * ctlTimestamp(new Date(2024, 0, 2, 3, 4, 5, 678)); // '2024-01-02 03:04:05.67800'
 * ctlTimestamp(new Date(2024, 0, 2, 3, 4, 5), 0);   // '2024-01-02 03:04:05'
 * ```
 */
export function ctlTimestamp(date: Date = new Date(), precision = 6): string {
  const base = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (precision <= 0) return base;
  const micro = `${pad(date.getMilliseconds(), 3)}000`;
  return `${base}.${micro.slice(0, Math.min(precision, 6) - 1)}`;
}

/**
 * Local time one hour from `now` as `YYYY-MM-DDTHH:MM`: the example patronictl shows in its
 * "When should the switchover take place" prompt.
 *
 * @example
 * ```ts
 * nextHourExample(new Date(2024, 0, 2, 3, 4)); // '2024-01-02T04:04'
 * ```
 */
export function nextHourExample(now: Date = new Date()): string {
  const d = new Date(now.getTime() + 3600_000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
