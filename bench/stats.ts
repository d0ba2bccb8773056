// Pure helpers of the bench: percentiles, rates and the human table. No I/O here, so
// test/unit/bench.test.ts can check them.

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (p in 0..100) of values already sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** p50/p95/p99/max/mean of a set of milliseconds, rounded to 0.1 ms. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : Number.NaN);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
    mean: round(mean),
  };
}

/** Operations per second, 0.1 precision. */
export const rate = (count: number, ms: number): number => (ms > 0 ? Math.round((count / (ms / 1000)) * 10) / 10 : Number.NaN);

/** a / b to 3 decimals (NaN when b is not a positive number). */
export const ratio = (a: number, b: number): number => (b > 0 && Number.isFinite(a) ? Math.round((a / b) * 1000) / 1000 : Number.NaN);

/** A plain-text table with aligned columns (numbers right-aligned). */
export function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [header.map(String), ...rows.map((row) => row.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || /^[-+]?[\d.,]+( ?[a-zA-Z%/]+)?$|^n\/a$/.test(String(row[i]))));
  const line = (row: readonly string[]) => row.map((c, i) => (numeric[i] && cells[0] !== row ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** 1234.5 → "1,234.5"; NaN → "n/a". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Growth of b over a as a percentage, one decimal. */
export const growthPercent = (a: number, b: number): number => (a > 0 ? Math.round(((b - a) / a) * 1000) / 10 : Number.NaN);
