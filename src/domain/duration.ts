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

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/** Milliseconds of a duration like `'2 days'`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  // The unit as written first, then without a plural s: "ms" is milliseconds, not "m" + "s".
  const word = match[2]!.toLowerCase();
  const unit = UNIT_MS[word] ?? (word.endsWith('s') ? UNIT_MS[word.slice(0, -1)] : undefined);
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}

const BUSINESS_DAYS = /^\s*(\d+)\s*business\s+days?\s*$/i;
const DAY_MS = 86_400_000;

/**
 * The instant `duration` after `fromMs`. Besides plain durations it understands
 * `'N business days'`: N whole days that skip Saturdays and Sundays (UTC), so a review that
 * starts on Friday afternoon with a 2-business-day SLA is due Tuesday afternoon. Undefined when
 * the text is no duration.
 */
export function addDuration(fromMs: number, duration: string): number | undefined {
  const business = BUSINESS_DAYS.exec(duration);
  if (!business) {
    const ms = parseDuration(duration);
    return ms === undefined ? undefined : fromMs + ms;
  }
  let remaining = Number(business[1]);
  let at = fromMs;
  // A start on a weekend counts from the next Monday at the same time of day.
  while (isWeekend(at)) at += DAY_MS;
  while (remaining > 0) {
    at += DAY_MS;
    if (!isWeekend(at)) remaining -= 1;
  }
  return at;
}

/** Whether `duration` is one `addDuration` understands, with a positive length. */
export function isDuration(duration: string): boolean {
  const at = addDuration(0, duration);
  return at !== undefined && at > 0;
}

function isWeekend(ms: number): boolean {
  const day = new Date(ms).getUTCDay();
  return day === 0 || day === 6;
}
