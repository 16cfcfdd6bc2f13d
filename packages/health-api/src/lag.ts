const UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/**
 * Parses a lag limit the way Patroni's `?lag=` does: bytes, or a number with a PostgreSQL memory
 * unit (`B`, `kB`, `MB`, `GB`, `TB`, powers of 1024). Anything else gives `undefined` (no limit).
 *
 * @example
 * ```ts
 * import { parseLag } from '@pgtools/health-api';
 * parseLag('16kB'); // 16384
 * parseLag('10MB'); // 10485760
 * parseLag('1000'); // 1000
 * ```
 */
export function parseLag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(value);
  if (!m || m[1] === undefined) return undefined;
  const unit = UNITS[m[2] ?? 'B'] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}
