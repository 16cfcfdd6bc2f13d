type Json = unknown;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Applies a `PATCH /config` body the way Patroni's `patch_config` does: objects merge recursively,
 * `null` removes a key, anything else replaces. Returns a new object; the inputs are not modified.
 *
 * @example
 * ```ts
 * import { mergeConfigPatch } from '@pgtools/health-api';
 * mergeConfigPatch({ ttl: 30, postgresql: { parameters: { a: 1, b: 2 } } },
 *                  { ttl: 20, postgresql: { parameters: { b: null } } });
 * // { ttl: 20, postgresql: { parameters: { a: 1 } } }
 * ```
 */
export function mergeConfigPatch(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (isPlainObject(value)) {
      const current = out[key];
      out[key] = mergeConfigPatch(isPlainObject(current) ? current : {}, value);
    } else {
      out[key] = structuredClone(value as Json);
    }
  }
  return out;
}

/**
 * Deep equality for JSON values (key order ignored), used to skip writes that change nothing.
 *
 * @example
 * ```ts
 * import { jsonEqual } from '@pgtools/health-api';
 * jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }); // true
 * ```
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}
