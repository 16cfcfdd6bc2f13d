/**
 * Serializes a value the way Patroni does (`json.dumps(v, separators=(',', ':'))`): compact, and
 * with every non-ASCII character escaped as `\uXXXX` (Python's default `ensure_ascii`), so keys
 * we write are byte-identical to the ones a Patroni node would write for the same data.
 *
 * @example
 * ```ts
 * import { patroniJson } from '@pgtools/dcs';
 * patroniJson({ leader: 'nœud1', sync_standby: null }); // '{"leader":"n\\u0153ud1","sync_standby":null}'
 * ```
 */
export function patroniJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value is not JSON-serializable');
  // JSON.stringify leaves non-ASCII characters raw; code units above 0x7f are escaped one by one,
  // which yields surrogate pairs for astral characters exactly like Python.
  return text.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
