import type { EngagementEvent, ScoreItem, ScoreLine } from '../lead.js';
import { durationMs } from '../../sequences/steps.js';
import { scoreEvent, signed } from './rules.js';
import { screenEngagement } from './honest.js';
import { RECENT_ITEMS_KEPT, SEEN_EVENT_IDS_KEPT, note, rulesOf, type Engagement, type LeadContext, type LeadMachineState, type ScoreBucket } from './state.js';

/**
 * Engagement and decay: an event scores once per eventId (within the remembered window), only
 * an event type the program names (as its own key) scores, and points older than the decay age
 * stop counting. The score is always the sum of the items still counting.
 */

const DAY_MS = 86_400_000;

/** Points of `type` in the program, or undefined for a type it does not name (`constructor` included). */
export function pointsOf(scoring: Record<string, number>, type: string): number | undefined {
  return Object.hasOwn(scoring, type) ? scoring[type] : undefined;
}

/** When `type` last arrived, or undefined. */
export function lastSeenAt(engagement: Engagement, type: string): number | undefined {
  return Object.hasOwn(engagement.lastSeen, type) ? engagement.lastSeen[type] : undefined;
}

const decayMs = (ctx: LeadContext): number | undefined => (ctx.program.decay ? durationMs(ctx.program.decay.after) : undefined);
const counts = (scoredAt: number | undefined, now: number, after: number | undefined): boolean => after === undefined || scoredAt === undefined || now - scoredAt < after;

/** The sum of what still counts. */
export const scoreOf = (engagement: Pick<Engagement, 'recent' | 'earlier'>): number =>
  engagement.recent.reduce((sum, item) => sum + item.points, 0) + engagement.earlier.reduce((sum, bucket) => sum + bucket.points, 0);

/** Drops points past the decay age; true when some stopped counting. */
export function applyDecay(state: LeadMachineState, ctx: LeadContext): boolean {
  const after = decayMs(ctx);
  if (after === undefined) return false;
  const { recent, earlier } = state.engagement;
  const liveRecent = recent.filter((item) => counts(item.scoredAt, ctx.now, after));
  const liveEarlier = earlier.filter((bucket) => counts(bucket.scoredAt, ctx.now, after));
  const lostEvents = recent.length - liveRecent.length + earlier.filter((bucket) => !liveEarlier.includes(bucket)).reduce((n, bucket) => n + bucket.count, 0);
  if (lostEvents === 0) return false;
  state.engagement = { ...state.engagement, recent: liveRecent, earlier: liveEarlier };
  state.engagement.score = scoreOf(state.engagement);
  note(state, ctx, 'event', `${lostEvents} event(s) older than ${ctx.program.decay!.after} stopped counting → score ${state.engagement.score}`);
  return true;
}

/** When the next points stop counting (epoch ms), or undefined. */
export function nextDecayAt(engagement: Engagement, ctx: LeadContext): number | undefined {
  const after = decayMs(ctx);
  if (after === undefined) return undefined;
  let due: number | undefined;
  for (const scoredAt of [...engagement.recent.map((i) => i.scoredAt), ...engagement.earlier.map((b) => b.scoredAt)]) {
    if (scoredAt !== undefined && (due === undefined || scoredAt + after < due)) due = scoredAt + after;
  }
  return due;
}

/** Folds the oldest recent items beyond RECENT_ITEMS_KEPT into per-type and rule (per-day with decay) buckets. */
function foldOld(engagement: Engagement, withDecay: boolean): Engagement {
  if (engagement.recent.length <= RECENT_ITEMS_KEPT) return engagement;
  const overflow = engagement.recent.slice(0, engagement.recent.length - RECENT_ITEMS_KEPT);
  const earlier = [...engagement.earlier];
  for (const item of overflow) {
    const day = withDecay && item.scoredAt !== undefined ? Math.floor(item.scoredAt / DAY_MS) : undefined;
    const at = earlier.findIndex((b) => b.type === item.type && b.rule === item.rule && (b.scoredAt === undefined ? day === undefined : day !== undefined && Math.floor(b.scoredAt / DAY_MS) === day));
    if (at < 0) {
      earlier.push({
        type: item.type,
        points: item.points,
        count: 1,
        occurredAt: item.occurredAt,
        ...(item.scoredAt !== undefined && withDecay ? { scoredAt: item.scoredAt } : {}),
        ...(item.rule !== undefined ? { rule: item.rule } : {}),
      });
    } else {
      const bucket = earlier[at]!;
      earlier[at] = {
        ...bucket,
        points: bucket.points + item.points,
        count: bucket.count + 1,
        occurredAt: item.occurredAt < bucket.occurredAt ? item.occurredAt : bucket.occurredAt,
      } satisfies ScoreBucket;
    }
  }
  return { ...engagement, recent: engagement.recent.slice(overflow.length), earlier };
}

/**
 * Takes one engagement event in: remembers its eventId and type, scores it once (the first
 * matching conditional rule, within its cap, else the flat table). Returns the points it earned
 * (0 for an unscored type, a capped rule, or a closed lead; negative for a rule that takes
 * points) or undefined for a repeat.
 */
export function takeEvent(state: LeadMachineState, event: EngagementEvent, ctx: LeadContext, scoring: boolean): number | undefined {
  const engagement = state.engagement;
  if (engagement.seen.includes(event.eventId)) return undefined;
  const seen = [...engagement.seen, event.eventId];
  state.engagement = { ...engagement, seen: seen.length > SEEN_EVENT_IDS_KEPT ? seen.slice(seen.length - SEEN_EVENT_IDS_KEPT) : seen };
  if (!scoring) return 0;
  if (screened(state, event, ctx)) return 0;
  const scored = scoreEvent(ctx.program.scoring, rulesOf(state, ctx), event, state.engagement.caps ?? {}, ctx.now);
  if (scored === undefined) return 0;
  state.engagement.lastSeen = { ...state.engagement.lastSeen, [event.type]: ctx.now };
  if (scored.caps) state.engagement.caps = scored.caps;
  const { points, rule } = scored;
  const ruleText = rule === event.type ? '' : ` (rule ${rule}${scored.cappedFrom !== undefined ? `, capped from ${signed(scored.cappedFrom)}` : ''})`;
  if (points === 0) {
    if (scored.cappedFrom !== undefined) note(state, ctx, 'event', `${event.type} ${signed(0)}${ruleText} → score ${state.engagement.score}`);
    return 0;
  }
  applyDecay(state, ctx);
  const item: ScoreItem = {
    eventId: event.eventId,
    type: event.type,
    points,
    occurredAt: event.occurredAt,
    ...(ctx.program.decay ? { scoredAt: ctx.now } : {}),
    ...(rule !== event.type ? { rule } : {}),
  };
  const next = foldOld({ ...state.engagement, recent: [...state.engagement.recent, item] }, ctx.program.decay !== undefined);
  state.engagement = { ...next, score: state.engagement.score + points };
  note(state, ctx, 'event', `${event.type} ${signed(points)}${ruleText} → score ${state.engagement.score}`);
  return points;
}

/**
 * Honest engagement (the program's engagementFilter): true when the open or click is a privacy
 * proxy's or a link scanner's. It stays recorded (Postgres, the seen ids) and is told in the
 * lead's story with the reason, but scores nothing and counts for no waitFor. A click that
 * completes "every link at once" also takes back the points of that burst's earlier clicks.
 */
function screened(state: LeadMachineState, event: EngagementEvent, ctx: LeadContext): boolean {
  const filter = ctx.program.engagementFilter;
  if (!filter || (event.type !== 'email.opened' && event.type !== 'email.clicked')) return false;
  const { verdict, bursts, unscore } = screenEngagement(filter, event, state.engagement.clickBursts ?? []);
  if (bursts) state.engagement = { ...state.engagement, clickBursts: bursts };
  const taken = state.engagement.recent.filter((item) => unscore.includes(item.eventId));
  if (taken.length > 0 && verdict) {
    state.engagement = { ...state.engagement, recent: state.engagement.recent.filter((item) => !unscore.includes(item.eventId)) };
    state.engagement.score = scoreOf(state.engagement);
    const points = taken.reduce((sum, item) => sum + item.points, 0);
    note(state, ctx, 'filtered', `${taken.length} earlier click(s) of that email no longer count (${signed(-points)}): ${verdict.text} → score ${state.engagement.score}`);
  }
  if (!verdict) return false;
  note(state, ctx, 'filtered', `${event.type} recorded, not scored: ${verdict.text}`);
  return true;
}

/** Sales rejected the lead: the score starts again from 0. */
export function resetScore(state: LeadMachineState): void {
  const { caps: _caps, ...engagement } = state.engagement;
  state.engagement = { ...engagement, score: 0, recent: [], earlier: [] };
}

/** The breakdown people see: older points summed per type first, then the recent events. */
export function scoreBreakdown(engagement: Engagement): ScoreItem[] {
  const earlier = engagement.earlier.map(
    (bucket): ScoreItem => ({
      eventId: `earlier:${bucket.type}:${bucket.count}`,
      type: bucket.type,
      points: bucket.points,
      occurredAt: bucket.occurredAt,
      ...(bucket.scoredAt !== undefined ? { scoredAt: bucket.scoredAt } : {}),
      ...(bucket.rule !== undefined ? { rule: bucket.rule } : {}),
    }),
  );
  return [...earlier, ...engagement.recent];
}

/** The breakdown as the lead detail shows it: every line names its rule, its events and when it stops counting. */
export function scoreLines(engagement: Engagement, ctx: LeadContext): ScoreLine[] {
  const after = decayMs(ctx);
  // Built field by field: spreading items of mixed shapes cost 4 µs a line, written on every read-model write.
  const line = (eventId: string, from: ScoreItem | ScoreBucket, count: number): ScoreLine => {
    const out: ScoreLine = { eventId, type: from.type, points: from.points, occurredAt: from.occurredAt, rule: from.rule ?? from.type, count, countsUntil: null };
    if (from.scoredAt !== undefined) {
      out.scoredAt = from.scoredAt;
      if (after !== undefined) out.countsUntil = new Date(from.scoredAt + after).toISOString();
    }
    return out;
  };
  return [...engagement.earlier.map((bucket) => line(`earlier:${bucket.type}:${bucket.count}`, bucket, bucket.count)), ...engagement.recent.map((item) => line(item.eventId, item, 1))];
}
