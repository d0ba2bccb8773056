/**
 * Durations with units, as marketing writes them in sequences: `'2 days'`, `'36 hours'`,
 * `'1 week'`, `'90 minutes'`. Pure (workflows import it). Bare numbers are refused on purpose:
 * a wait without a unit is a bug waiting to happen.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
};

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i;

/** Milliseconds of a duration like `'2 days'`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  const unit = UNIT_MS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}
