/**
 * The median of some numbers (mean of the middle two for an even count); `undefined` for none.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * median([]); // undefined
 * ```
 */
export function median(values: readonly number[]): number | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The nearest-rank percentile (`p` in 0..100) of some numbers; `undefined` for none.
 * Nearest rank, not interpolation: a reported p99 latency is one a transaction really had.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4, 100], 99); // 100
 * percentile([1, 2, 3, 4], 50); // 2
 * ```
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
