// Small statistics helpers: medians of repeats and percentiles of samples.

/** The median of a list of numbers (the mean of the middle two for even sizes). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Smallest and largest value. */
export function range(values) {
  return { min: Math.min(...values), max: Math.max(...values) };
}

/**
 * The p-th percentile (0..100) of samples already sorted ascending, by the
 * nearest-rank method: the smallest sample at or above p percent of them.
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
