/** What hactl prints instead of a secret. */
export const REDACTED = '********';

const SECRET_KEY = /(pass(word|wd)?|secret|token|private_?key)$/i;
// libpq conninfo `password=...` (quoted or not) and URL credentials `scheme://user:secret@`.
const CONNINFO_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)/gi;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^@\s/]+)(@)/gi;

/**
 * Hides passwords inside free text: libpq `password=...` and `scheme://user:password@host`.
 *
 * @example
 * ```ts
 * redactText("host=h user=u password='a b'"); // 'host=h user=u password=********'
 * redactText('postgres://u:pw@h/db'); // 'postgres://u:********@h/db'
 * ```
 */
export function redactText(text: string): string {
  return text.replace(CONNINFO_PASSWORD, `$1${REDACTED}`).replace(URL_PASSWORD, `$1${REDACTED}$3`);
}

/**
 * A copy of a configuration document with secrets hidden: the value of any key named like a
 * password, secret, token or private key, and passwords inside conninfo strings and URLs. When
 * `previous` is given (the document before an edit), a secret that differs from the one at the
 * same place in `previous` reads `******** (changed)`, so a diff still shows that it changed.
 *
 * patronictl prints the `config` key as it is; the dynamic configuration normally holds no
 * passwords, but one put there by hand (a `standby_cluster` conninfo, a custom key) is not shown.
 *
 * @example
 * ```ts
 * redactSecrets({ ttl: 30, standby_cluster: { password: 'x' } }); // { ttl: 30, standby_cluster: { password: '********' } }
 * ```
 */
export function redactSecrets(value: unknown, previous?: unknown): unknown {
  return walk(value, previous, previous !== undefined, 0);
}

function walk(value: unknown, previous: unknown, comparing: boolean, depth: number): unknown {
  if (depth > 50) return value;
  if (typeof value === 'string') {
    const out = redactText(value);
    if (out !== value && comparing && value !== previous) return `${out} (changed)`;
    return out;
  }
  if (Array.isArray(value)) {
    const prev = Array.isArray(previous) ? previous : [];
    return value.map((v, i) => walk(v, prev[i], comparing, depth + 1));
  }
  if (typeof value !== 'object' || value === null) return value;
  const prev = typeof previous === 'object' && previous !== null && !Array.isArray(previous) ? (previous as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(k) && v !== null && v !== '' && typeof v !== 'object') {
      out[k] = comparing && JSON.stringify(v) !== JSON.stringify(prev[k]) ? `${REDACTED} (changed)` : REDACTED;
    } else {
      out[k] = walk(v, prev[k], comparing, depth + 1);
    }
  }
  return out;
}
