// Pure decisions of the bench: when work was processed (from history timestamps), what a step
// of offered load did, where the knee is, CPU with the idle share taken out, the targets. No
// I/O here, so test/unit/bench.test.ts checks every rule.

import { percentile, rate, ratio, summarize, type LatencySummary } from './stats.js';

/** One history event, reduced to what the bench counts (times in epoch milliseconds). */
export type HistoryMark =
  | { kind: 'started'; at: number }
  | { kind: 'signaled'; at: number; name: string; opId?: string }
  | { kind: 'taskCompleted'; at: number }
  | { kind: 'activityCompleted'; at: number }
  | { kind: 'stageUpserted'; at: number; stage: string }
  | { kind: 'other'; at: number };

/**
 * When a workflow was parked after its start: the completion time of the last workflow task
 * before it went quiet (A: the first task; B: the task after the activity; a Leadflow lead: the
 * task after the welcome email). Undefined while no task completed.
 */
export function parkedAt(marks: readonly HistoryMark[], untilSignal = true): number | undefined {
  let last: number | undefined;
  for (const m of marks) {
    if (untilSignal && m.kind === 'signaled') break;
    if (m.kind === 'taskCompleted') last = m.at;
  }
  return last;
}

/** A signal and the time the workflow had handled it (the first workflow task completed after it). */
export interface SignalProcessed {
  opId?: string;
  signaledAt: number;
  processedAt: number;
}

/**
 * Signals named `name` recorded at or after `since`, each with the completion time of the
 * workflow task that handled it; with `viaActivity` (baseline D), the task completed after the
 * activity the signal caused (the n-th activity completion after `since` for the n-th signal).
 * Signals not handled yet are left out.
 */
export function processedSignals(marks: readonly HistoryMark[], name: string, since = Number.NEGATIVE_INFINITY, viaActivity = false): SignalProcessed[] {
  const signals: Array<{ opId?: string; at: number }> = [];
  const out: SignalProcessed[] = [];
  if (!viaActivity) {
    let pending: Array<{ opId?: string; at: number }> = [];
    for (const m of marks) {
      if (m.at < since) continue;
      if (m.kind === 'signaled' && m.name === name) pending.push({ ...(m.opId !== undefined ? { opId: m.opId } : {}), at: m.at });
      else if (m.kind === 'taskCompleted' && pending.length) {
        for (const s of pending) out.push({ ...(s.opId !== undefined ? { opId: s.opId } : {}), signaledAt: s.at, processedAt: m.at });
        pending = [];
      }
    }
    return out;
  }
  // Baseline D: one activity per signal; the signal counts once the task after its activity completed.
  const activityDone: number[] = [];
  let awaitingTask = 0;
  for (const m of marks) {
    if (m.at < since) continue;
    if (m.kind === 'signaled' && m.name === name) signals.push({ ...(m.opId !== undefined ? { opId: m.opId } : {}), at: m.at });
    else if (m.kind === 'activityCompleted') awaitingTask += 1;
    else if (m.kind === 'taskCompleted' && awaitingTask) {
      for (; awaitingTask > 0; awaitingTask--) activityDone.push(m.at);
    }
  }
  signals.forEach((s, i) => {
    if (activityDone[i] !== undefined) out.push({ ...(s.opId !== undefined ? { opId: s.opId } : {}), signaledAt: s.at, processedAt: activityDone[i]! });
  });
  return out;
}

/** The first time the LeadStage search attribute was set to `stage` at or after `since`. */
export function stageUpsertedAt(marks: readonly HistoryMark[], stage: string, since = Number.NEGATIVE_INFINITY): number | undefined {
  return marks.find((m) => m.kind === 'stageUpserted' && m.stage === stage && m.at >= since)?.at;
}

/** How many of `times` are at or before `t`. */
export const countUpTo = (times: readonly number[], t: number): number => times.reduce((n, x) => (x <= t ? n + 1 : n), 0);

/** Sends per whole second of a step (the rate actually offered, second by second). */
export function perSecond(sentAt: readonly number[], from: number, seconds: number): number[] {
  const bins = Array.from({ length: Math.max(0, Math.ceil(seconds)) }, () => 0);
  for (const t of sentAt) {
    const i = Math.floor((t - from) / 1000);
    if (i >= 0 && i < bins.length) bins[i]! += 1;
  }
  return bins;
}

/** Rates are what was measured; `offeredPerSecond` is the plan. */
export interface StepMeasure {
  offeredPerSecond: number;
  /** Epoch ms of the first planned send and the end of the step. */
  from: number;
  to: number;
  sentAt: number[];
  processedAt: number[];
  /** Latency samples of the step's knee figure (ms), e.g. signal processed or hand-off to sales_review. */
  kneeLatencyMs: number[];
}

export interface StepVerdict {
  offeredPerSecond: number;
  /** Sends over the step's duration, measured from the load generator's timestamps. */
  measuredOfferedPerSecond: number;
  /** The slowest and the fastest whole second of sending. */
  offeredSecondMin: number;
  offeredSecondMax: number;
  processedPerSecond: number;
  /** Sent but not processed, at the middle and at the end of the step. */
  backlogMid: number;
  backlogEnd: number;
  backlogGrowing: boolean;
  /** The generator fell short of the plan by more than 10 %: the step does not measure its rate. */
  underOffered: boolean;
  kneeLatency: LatencySummary;
  /** p99 under the latency limit and no growing backlog. */
  ok: boolean;
}

export const KNEE_P99_MS = 250;

/**
 * The verdict on one step. The backlog grows when, at the end, more than a second's worth of the
 * offered load (at least 5 operations) is unprocessed and more than at the step's middle.
 */
export function stepVerdict(m: StepMeasure, p99LimitMs = KNEE_P99_MS): StepVerdict {
  const seconds = (m.to - m.from) / 1000;
  const mid = m.from + (m.to - m.from) / 2;
  const backlogAt = (t: number) => countUpTo(m.sentAt, t) - countUpTo(m.processedAt, t);
  const backlogMid = backlogAt(mid);
  const backlogEnd = backlogAt(m.to);
  const backlogGrowing = backlogEnd > Math.max(5, m.offeredPerSecond) && backlogEnd > backlogMid;
  const bins = perSecond(m.sentAt, m.from, Math.floor(seconds));
  const measuredOfferedPerSecond = rate(m.sentAt.length, m.to - m.from);
  const kneeLatency = summarize(m.kneeLatencyMs);
  const underOffered = measuredOfferedPerSecond < 0.9 * m.offeredPerSecond;
  return {
    offeredPerSecond: m.offeredPerSecond,
    measuredOfferedPerSecond,
    offeredSecondMin: bins.length ? Math.min(...bins) : 0,
    offeredSecondMax: bins.length ? Math.max(...bins) : 0,
    processedPerSecond: rate(m.processedAt.filter((t) => t >= m.from && t <= m.to).length, m.to - m.from),
    backlogMid,
    backlogEnd,
    backlogGrowing,
    underOffered,
    kneeLatency,
    ok: !backlogGrowing && !underOffered && kneeLatency.count > 0 && kneeLatency.p99 < p99LimitMs,
  };
}

/**
 * The knee: the highest offered rate whose step, and every step below it, was ok. Undefined when
 * even the lowest step failed.
 */
export function findKnee(steps: ReadonlyArray<Pick<StepVerdict, 'offeredPerSecond' | 'ok'>>): number | undefined {
  let knee: number | undefined;
  for (const s of [...steps].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)) {
    if (!s.ok) break;
    knee = s.offeredPerSecond;
  }
  return knee;
}

/** Whether to offer the next, higher rate: not after a step that broke. */
export const keepStepping = (last: Pick<StepVerdict, 'ok'> | undefined): boolean => last === undefined || last.ok;

/** CPU of one process over a phase. */
export interface CpuUse {
  /** CPU ms used during the phase. */
  ms: number;
  /** Minus what the process used at idle over as long (measured just before), never below 0. */
  activeMs: number;
  msPerOp: number;
}

/**
 * CPU per process and operation with each process's idle use taken out: `idleMsPerSecond` is its
 * CPU rate over a quiet interval before the phase, charged for the phase's duration. `all` adds
 * up the processes of the system under test (those in `system`).
 */
export function subtractIdle(
  deltaMs: Readonly<Record<string, number | undefined>>,
  idleMsPerSecond: Readonly<Record<string, number | undefined>>,
  phaseMs: number,
  ops: number,
  system: readonly string[],
): Record<string, CpuUse> {
  const perOp = (ms: number) => (ops > 0 ? Math.round((ms / ops) * 100) / 100 : Number.NaN);
  const out: Record<string, CpuUse> = {};
  let all = 0;
  let allMs = 0;
  for (const [name, ms] of Object.entries(deltaMs)) {
    if (ms === undefined) continue;
    const idle = (idleMsPerSecond[name] ?? 0) * (phaseMs / 1000);
    const activeMs = Math.max(0, Math.round(ms - idle));
    out[name] = { ms: Math.round(ms), activeMs, msPerOp: perOp(activeMs) };
    if (system.includes(name)) {
      all += activeMs;
      allMs += ms;
    }
  }
  out.all = { ms: Math.round(allMs), activeMs: all, msPerOp: perOp(all) };
  return out;
}

/** CPU ms per second from two samples `seconds` apart. */
export const cpuRate = (beforeMs: number, afterMs: number, ms: number): number => (ms > 0 ? Math.round(((afterMs - beforeMs) / ms) * 1000 * 100) / 100 : 0);

export interface Target {
  target: string;
  value: number;
  /** The limit the value is held against. */
  limit: number;
  met: boolean;
}

export interface TargetInputs {
  eventsProcessedRate: number;
  bareSignalProcessedRate: number;
  enrolProcessedRate: number;
  bareStartActivityProcessedRate: number;
  targetRate: number;
  handoffReviewMs: LatencySummary;
  handoffSearchAttributeMs: LatencySummary;
  /** The sustained step really offered its rate and did not fall behind. */
  targetStepSustained: boolean;
  workerRssGrowth1kTo10kPercent: number;
  temporalBytesPerParkedLead: number;
}

/** The targets of issue 14, as ratios and figures of one run; reported, never asserted. */
export function evaluateTargets(x: TargetInputs): Target[] {
  const events = ratio(x.eventsProcessedRate, x.bareSignalProcessedRate);
  const enrol = ratio(x.enrolProcessedRate, x.bareStartActivityProcessedRate);
  const p50 = Math.max(x.handoffReviewMs.p50, x.handoffSearchAttributeMs.p50);
  const p99 = Math.max(x.handoffReviewMs.p99, x.handoffSearchAttributeMs.p99);
  const atRate = (v: number, limit: number) => x.targetStepSustained && x.handoffReviewMs.count > 0 && v < limit;
  return [
    { target: 'events ≥ 0.85 × bare signal C (processed/s)', value: events, limit: 0.85, met: events >= 0.85 },
    { target: 'enrolment ≥ 0.85 × bare start + activity B (processed/s)', value: enrol, limit: 0.85, met: enrol >= 0.85 },
    { target: `hand-off to sales_review p50 < 50 ms at a sustained ${x.targetRate} events/s (read model and search attribute)`, value: p50, limit: 50, met: atRate(p50, 50) },
    { target: `hand-off to sales_review p99 < 250 ms at a sustained ${x.targetRate} events/s (read model and search attribute)`, value: p99, limit: 250, met: atRate(p99, 250) },
    { target: 'worker RSS growth < 10 % from 1k to 10k parked leads', value: x.workerRssGrowth1kTo10kPercent, limit: 10, met: x.workerRssGrowth1kTo10kPercent < 10 },
    { target: '≤ 15 KB of Temporal storage per parked lead', value: x.temporalBytesPerParkedLead, limit: 15_000, met: x.temporalBytesPerParkedLead <= 15_000 },
  ];
}

/** Latencies in ms of matched pairs (`end[id] - start[id]`), ids missing from either left out. */
export function matchedLatencies(start: ReadonlyMap<string, number>, end: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (const [id, t0] of start) {
    const t1 = end.get(id);
    if (t1 !== undefined) out.push(t1 - t0);
  }
  return out;
}

/** The nearest-rank p99 of raw values, for progress lines. */
export const p99Of = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 99);
