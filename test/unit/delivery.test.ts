import { describe, expect, it } from 'vitest';
import { capAllows, inSendWindow, liveScoreItems, nextSendTime, nextWindowOpening } from '../../src/sequences/delivery.js';
import type { Delivery, SendWindow } from '../../src/sequences/model.js';

const everyDay: SendWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '20:00', defaultTimezone: 'UTC' };
const at = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

describe('send windows', () => {
  it('keeps an instant inside the window and moves one outside to the next local opening', () => {
    expect(nextWindowOpening(at('2026-06-10T12:00:00Z'), everyDay, 'Europe/Paris')).toBe(at('2026-06-10T12:00:00Z'));
    // 03:00 in Paris (CEST, +2) → 08:00 the same day = 06:00 UTC.
    expect(nextWindowOpening(at('2026-06-10T01:00:00Z'), everyDay, 'Europe/Paris')).toBe(at('2026-06-10T06:00:00Z'));
    // 21:00 in Tokyo → 08:00 the next day = 23:00 UTC.
    expect(nextWindowOpening(at('2026-06-10T12:00:00Z'), everyDay, 'Asia/Tokyo')).toBe(at('2026-06-10T23:00:00Z'));
    expect(inSendWindow(at('2026-06-10T12:00:00Z'), everyDay, 'America/Los_Angeles')).toBe(false); // 05:00 local
  });

  it('follows daylight-saving changes in both directions', () => {
    // New York, Sunday 2026-03-08 (EST → EDT): 22:00 EST Saturday → 08:00 EDT = 12:00 UTC.
    expect(nextWindowOpening(at('2026-03-08T03:00:00Z'), everyDay, 'America/New_York')).toBe(at('2026-03-08T12:00:00Z'));
    // Paris, Sunday 2026-10-25 (CEST → CET): 23:00 CEST Saturday → 08:00 CET = 07:00 UTC.
    expect(nextWindowOpening(at('2026-10-24T21:00:00Z'), everyDay, 'Europe/Paris')).toBe(at('2026-10-25T07:00:00Z'));
    // The day before, 08:00 CEST was 06:00 UTC.
    expect(nextWindowOpening(at('2026-10-23T21:00:00Z'), everyDay, 'Europe/Paris')).toBe(at('2026-10-24T06:00:00Z'));
  });

  it('skips days outside the window (a Friday evening waits for Monday)', () => {
    const weekdays: SendWindow = { ...everyDay, days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' };
    // Friday 2026-06-12 18:00 in London (BST, +1) → Monday 09:00 BST = 08:00 UTC.
    expect(nextWindowOpening(at('2026-06-12T17:00:00Z'), weekdays, 'Europe/London')).toBe(at('2026-06-15T08:00:00Z'));
  });
});

describe('frequency cap and decay', () => {
  const cap = { max: 3, per: '7 days' };
  it('lets the next email go once the oldest of a full window ages out', () => {
    const t0 = at('2026-06-01T10:00:00Z');
    const sent = [t0, t0 + 2 * DAY, t0 + 4 * DAY];
    expect(capAllows(sent.slice(0, 2), t0 + 5 * DAY, cap)).toBe(t0 + 5 * DAY);
    expect(capAllows(sent, t0 + 6 * DAY, cap)).toBe(t0 + 7 * DAY);
  });

  it('combines the cap and the window: the first instant both allow', () => {
    const delivery: Delivery = { sendWindow: everyDay, firstEmailAtOnce: true, frequencyCap: cap };
    const t0 = at('2026-06-01T21:00:00Z'); // after the UTC window closed
    // The cap frees up at 21:00 seven days later, outside the window: 08:00 the morning after.
    expect(nextSendTime(t0 + 6 * DAY, delivery, 'UTC', [t0, t0 + DAY, t0 + 2 * DAY])).toBe(at('2026-06-09T08:00:00Z'));
    expect(nextSendTime(t0, delivery, 'UTC', [], { ignoreWindow: true })).toBe(t0);
  });

  it('counts only points younger than the decay age (items from before decay never expire)', () => {
    const now = at('2026-06-01T00:00:00Z');
    const items = [{ points: 20, scoredAt: now - 91 * DAY }, { points: 10, scoredAt: now - 89 * DAY }, { points: 5 }];
    expect(liveScoreItems(items, now, { after: '90 days' }).map((i) => i.points)).toEqual([10, 5]);
    expect(liveScoreItems(items, now, undefined)).toHaveLength(3);
  });
});
