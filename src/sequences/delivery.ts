import { parseDuration } from '../domain/duration.js';
import type { Delivery, SendWindow } from './model.js';
import { WEEKDAYS, type Weekday } from './steps.js';

/**
 * Delivery rules as pure functions of instants (epoch ms): send windows in the lead's time zone,
 * the frequency cap and score decay. Deterministic (Intl with an explicit time zone and no
 * clock), so the lead workflow computes its next send time itself.
 */

interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: Weekday;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone Intl knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function localParts(at: number, timeZone: string): LocalTime & { hour: number; minute: number; second: number } {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(at))) parts[p.type] = p.value;
  const hour = Number(parts.hour);
  const minute = Number(parts.minute);
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
    hour,
    minute,
    second: Number(parts.second),
    minutes: hour * 60 + minute,
  };
}

/** Offset of `timeZone` from UTC at instant `at`, in ms (Paris in winter: +3,600,000). */
function offsetAt(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The instant the local wall-clock time `minutes` after midnight of y-m-d happens in `timeZone`.
 * A time that does not exist (skipped by a DST change) maps to the same distance past the gap.
 */
function localToInstant(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  let at = wall - offsetAt(wall, timeZone);
  at = wall - offsetAt(at, timeZone);
  return at;
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether instant `at` falls inside the send window, in `timeZone`. */
export function inSendWindow(at: number, window: SendWindow, timeZone: string): boolean {
  const local = localParts(at, timeZone);
  return window.days.includes(local.weekday) && local.minutes >= toMinutes(window.start) && local.minutes < toMinutes(window.end);
}

/** `at` itself when it is inside the window, else the next instant the window opens. */
export function nextWindowOpening(at: number, window: SendWindow, timeZone: string): number {
  if (inSendWindow(at, window, timeZone)) return at;
  const today = localParts(at, timeZone);
  const start = toMinutes(window.start);
  // Today's opening (if still ahead), else the first allowed day after; at most a week on.
  for (let offset = 0; offset <= 7; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const weekday = WEEKDAYS[(date.getUTCDay() + 6) % 7]!;
    if (!window.days.includes(weekday)) continue;
    const opening = localToInstant(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), start, timeZone);
    if (opening > at) return opening;
  }
  throw new Error('a send window with at least one day opens within a week');
}

/** Sends inside the rolling cap window that ends at `at`. */
export function sendsInCapWindow(sentAt: readonly number[], at: number, cap: Delivery['frequencyCap']): number[] {
  const per = parseDuration(cap.per)!;
  return sentAt.filter((t) => t > at - per && t <= at);
}

/** The earliest instant at or after `at` when one more email stays within the frequency cap. */
export function capAllows(sentAt: readonly number[], at: number, cap: Delivery['frequencyCap']): number {
  const per = parseDuration(cap.per)!;
  const recent = sendsInCapWindow(sentAt, at, cap).sort((a, b) => a - b);
  if (recent.length < cap.max) return at;
  // The oldest sends must age out until only max - 1 remain in the window.
  return recent[recent.length - cap.max]! + per;
}

/**
 * When the next marketing email may go: no earlier than `at`, within the frequency cap, and
 * inside the send window (both: a window opening may not break the cap, and vice versa).
 */
export function nextSendTime(at: number, delivery: Delivery, timeZone: string, sentAt: readonly number[], options: { ignoreWindow?: boolean } = {}): number {
  let t = at;
  for (let i = 0; i < 20; i++) {
    const capped = capAllows(sentAt, t, delivery.frequencyCap);
    const windowed = options.ignoreWindow ? capped : nextWindowOpening(capped, delivery.sendWindow, timeZone);
    if (windowed === t) return t;
    t = windowed;
  }
  return t;
}

/** Points still counting at `at`: those scored less than `after` ago. */
export function liveScoreItems<T extends { scoredAt?: number }>(items: readonly T[], at: number, decay: { after: string } | undefined): T[] {
  if (!decay) return [...items];
  const after = parseDuration(decay.after)!;
  // Items from before decay existed carry no scoredAt: they never expire.
  return items.filter((item) => item.scoredAt === undefined || at - item.scoredAt < after);
}

/** The lead's time zone for delivery: its own when Intl knows it, else the program's default. */
export function leadTimeZone(timezone: string | undefined, window: SendWindow): string {
  return timezone && isTimeZone(timezone) ? timezone : window.defaultTimezone;
}
