import { startAttributes } from '../workflows/search-attributes.js';
import { parkedAt, processedSignals, type CpuUse, type HistoryMark } from './analysis.js';
import { bareId, enrol, historiesOf, leadId, leadWorkflow, parkedCount, waitQuiet, waitUntil, type BenchContext } from './context.js';
import { cpuMeter, measureIdle } from './cpu.js';
import { runLimited, sleep, startInputOf } from './stack.js';
import { rate, ratio, summarize, type LatencySummary } from './stats.js';
import { benchTickSignal } from './workflows.js';

// Phase 1: matched baselines, bursts of `--concurrency` in flight. A start → park, B start → one
// no-op activity → park, Leadflow enrolment; C a signal to a parked A, D a signal that runs one
// activity (to a parked B), Leadflow events. Processed rates come from history timestamps only:
// the completion of the workflow task that parked the workflow, or that handled the signal.

export interface BurstResult {
  what: string;
  count: number;
  concurrency: number;
  /** Until the last request was answered. */
  ackRate: number;
  /** Processed operations over the time from the first send to the last processed one. */
  processedRate: number;
  /** Operations whose processing the histories do not show (0 on a working system). */
  unprocessed: number;
  requestLatencyMs: LatencySummary;
  /** From the send to the processing task's completion. */
  processedLatencyMs: LatencySummary;
  errors: number;
  firstError?: string;
  cpu: Record<string, CpuUse>;
}

export interface BaselinesResult {
  /** Bytes of the start input every baseline workflow carries (a lead's, JSON before the codec). */
  startInputBytes: number;
  a: BurstResult;
  b: BurstResult;
  enrol: BurstResult;
  c: BurstResult;
  d: BurstResult;
  events: BurstResult;
  /**
   * What one lead's own history says an input costs (lead p-1): enrolment up to the parked lead,
   * and an engagement event averaged over the events burst (coalesced score writes included).
   */
  cost?: { enrolment: HistoryCost; event: HistoryCost };
  ratios: {
    enrolToB: number;
    eventsToC: number;
    /** Every burst's processed rate over A's. */
    toA: { b: number; enrol: number; c: number; d: number; events: number };
  };
}

export interface HistoryCost {
  historyEvents: number;
  activities: number;
}

/** History events and activities of a lead before its first signal, and per signal after it. */
export function historyCost(marks: readonly HistoryMark[]): { enrolment: HistoryCost; event: HistoryCost } {
  const first = marks.findIndex((m) => m.kind === 'signaled');
  const before = first < 0 ? marks : marks.slice(0, first);
  const after = first < 0 ? [] : marks.slice(first);
  const signals = after.filter((m) => m.kind === 'signaled').length;
  const per = (n: number) => (signals ? Math.round((n / signals) * 10) / 10 : Number.NaN);
  const activities = (ms: readonly HistoryMark[]) => ms.filter((m) => m.kind === 'activityCompleted').length;
  return { enrolment: { historyEvents: before.length, activities: activities(before) }, event: { historyEvents: per(after.length), activities: per(activities(after)) } };
}

const BARE_WORKFLOW = { a: 'benchParkedWorkflow', b: 'benchActivityWorkflow' } as const;

/** A lead's start input, from a first lead enrolled for it (it stays one of the `p` leads). */
export async function ensureStartInput(c: BenchContext): Promise<unknown> {
  if (c.startInput !== undefined) return c.startInput;
  if (c.leads.p === 0) {
    await enrol(c, 'p', 0);
    c.leads.p = 1;
    await waitUntil(() => parkedCount(c, 'p'), 1, () => undefined, 60_000, 200);
  }
  c.startInput = await startInputOf(c.stack, leadWorkflow(leadId(c, 'p', 0)));
  return c.startInput;
}

/** Starts `count` more bare workflows of `kind` (A or B) carrying the lead's start input. */
export function startBare(c: BenchContext, kind: 'a' | 'b', i: number, input: unknown) {
  const sequence = (input as { program?: { enrolSequence?: { id: string; version: number } } }).program?.enrolSequence ?? { id: 'bench', version: 1 };
  return c.stack.client.workflow.start(BARE_WORKFLOW[kind], {
    workflowId: bareId(c, kind, i),
    taskQueue: c.stack.baselineQueue,
    args: [input],
    typedSearchAttributes: startAttributes(sequence),
  });
}

interface Burst {
  what: string;
  count: number;
  send: (i: number) => Promise<unknown>;
  /** Waits until every answered operation could be processed (a cheap probe), before histories are read. */
  waitDone?: (answered: number) => Promise<void>;
  /** The workflow ids whose histories show the processing. */
  workflows: string[];
  /** Processed times (epoch ms) by operation id, from the histories. */
  processed: (histories: Map<string, HistoryMark[]>, since: number) => Map<string, number>;
  opId: (i: number) => string;
}

async function burst(c: BenchContext, b: Burst): Promise<BurstResult> {
  const { options, progress } = c;
  progress.start(`${b.what}: idle CPU over ${options.idleMs / 1000} s`, 0);
  const idle = await measureIdle(c.stack, options.idleMs);
  progress.finish();
  const meter = await cpuMeter(c.stack, idle);
  progress.start(b.what, b.count);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let done = 0;
  const t0 = Date.now();
  await runLimited(b.count, options.concurrency, async (i) => {
    const started = performance.now();
    sentAt.set(b.opId(i), Date.now());
    try {
      await b.send(i);
      latencies.push(performance.now() - started);
    } catch (error) {
      errors += 1;
      firstError ??= (error as Error).message;
    }
    progress.update(++done);
  });
  const ackAt = Date.now();
  if (errors === b.count) throw new Error(`${b.what}: every request failed; the first: ${firstError}`);
  progress.finish(`${b.count - errors} answered, ${rate(b.count - errors, ackAt - t0)}/s`);
  progress.start(`${b.what}: waiting until processed and quiet`, 0);
  await b.waitDone?.(b.count - errors);
  await waitQuiet(c, idle, options.drainMs);
  const cpu = await meter.end(b.count - errors);
  progress.finish();
  progress.start(`${b.what}: reading ${b.workflows.length} histories`, 0);
  let histories = await historiesOf(c, b.workflows);
  let processed = b.processed(histories, t0);
  // A slow machine may still be working: look again a few times before calling work unprocessed.
  for (let attempt = 0; attempt < 5 && processed.size < b.count - errors; attempt++) {
    await sleep(Math.max(2000, options.drainMs / 5));
    histories = await historiesOf(c, b.workflows);
    processed = b.processed(histories, t0);
  }
  const processedLatency: number[] = [];
  let last = t0;
  for (const [id, at] of processed) {
    const sent = sentAt.get(id);
    if (sent === undefined) continue;
    processedLatency.push(at - sent);
    last = Math.max(last, at);
  }
  const unprocessed = b.count - errors - processedLatency.length;
  const result: BurstResult = {
    what: b.what,
    count: b.count - errors,
    concurrency: options.concurrency,
    ackRate: rate(b.count - errors, ackAt - t0),
    processedRate: rate(processedLatency.length, last - t0),
    unprocessed,
    requestLatencyMs: summarize(latencies),
    processedLatencyMs: summarize(processedLatency),
    errors,
    ...(firstError ? { firstError } : {}),
    cpu,
  };
  progress.finish(`processed ${result.processedRate}/s, ${unprocessed} unprocessed; CPU ${cpu.all?.msPerOp} ms per op (all processes, idle subtracted)`);
  return result;
}

const parkedBy = (prefix: (i: number) => string, count: number, requireActivity: boolean) => (histories: Map<string, HistoryMark[]>) => {
  const out = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const marks = histories.get(prefix(i)) ?? [];
    if (requireActivity && !marks.some((m) => m.kind === 'activityCompleted')) continue;
    const at = parkedAt(marks);
    if (at !== undefined) out.set(String(i), at);
  }
  return out;
};

const signalsBy = (name: string, viaActivity: boolean) => (histories: Map<string, HistoryMark[]>, since: number) => {
  const out = new Map<string, number>();
  for (const marks of histories.values()) for (const s of processedSignals(marks, name, since, viaActivity)) if (s.opId !== undefined) out.set(s.opId, s.processedAt);
  return out;
};

/** Phase 1. Leaves A and B workflows (K of each) and K Leadflow event leads parked for the capacity phase. */
export async function runBaselines(c: BenchContext): Promise<BaselinesResult> {
  const { options } = c;
  const input = await ensureStartInput(c);
  const N = options.starts;
  const M = options.events;
  const K = Math.min(options.eventLeads, N);
  const aFrom = c.bare.a;
  const a = await burst(c, {
    what: `A: start → park (${N})`,
    count: N,
    send: (i) => startBare(c, 'a', aFrom + i, input),
    workflows: Array.from({ length: N }, (_, i) => bareId(c, 'a', aFrom + i)),
    processed: parkedBy((i) => bareId(c, 'a', aFrom + i), N, false),
    opId: String,
  });
  c.bare.a += N;
  const bFrom = c.bare.b;
  const b = await burst(c, {
    what: `B: start → no-op activity → park (${N})`,
    count: N,
    send: (i) => startBare(c, 'b', bFrom + i, input),
    workflows: Array.from({ length: N }, (_, i) => bareId(c, 'b', bFrom + i)),
    processed: parkedBy((i) => bareId(c, 'b', bFrom + i), N, true),
    opId: String,
  });
  c.bare.b += N;
  const pFrom = c.leads.p;
  const enrolled = await burst(c, {
    what: `Leadflow: POST /v1/leads (${N})`,
    count: N,
    send: (i) => enrol(c, 'p', pFrom + i),
    waitDone: (answered) => waitUntil(() => parkedCount(c, 'p'), pFrom + answered, () => undefined, 180_000),
    workflows: Array.from({ length: N }, (_, i) => leadWorkflow(leadId(c, 'p', pFrom + i))),
    processed: parkedBy((i) => leadWorkflow(leadId(c, 'p', pFrom + i)), N, true),
    opId: String,
  });
  c.leads.p += N;

  const target = (i: number) => i % K;
  const cBurst = await burst(c, {
    what: `C: signal to a parked A (${M} over ${K})`,
    count: M,
    send: (i) => c.stack.client.workflow.getHandle(bareId(c, 'a', target(i))).signal(benchTickSignal, `c-${i}`),
    workflows: Array.from({ length: K }, (_, j) => bareId(c, 'a', j)),
    processed: signalsBy(benchTickSignal.name, false),
    opId: (i) => `c-${i}`,
  });
  const dBurst = await burst(c, {
    what: `D: signal → one activity (${M} over ${K})`,
    count: M,
    send: (i) => c.stack.client.workflow.getHandle(bareId(c, 'b', target(i))).signal(benchTickSignal, `d-${i}`),
    workflows: Array.from({ length: K }, (_, j) => bareId(c, 'b', j)),
    processed: signalsBy(benchTickSignal.name, true),
    opId: (i) => `d-${i}`,
  });
  const events = await burst(c, {
    what: `Leadflow: POST /v1/leads/{id}/events (${M} over ${K})`,
    count: M,
    send: (i) => c.stack.expectStatus('POST', `/v1/leads/${leadId(c, 'p', target(i))}/events`, { eventId: `ev-${i}`, type: 'page.viewed' }, [202]),
    workflows: Array.from({ length: K }, (_, j) => leadWorkflow(leadId(c, 'p', j))),
    processed: signalsBy('engagement', false),
    opId: (i) => `ev-${i}`,
  });
  const toA = (x: BurstResult) => ratio(x.processedRate, a.processedRate);
  await sleep(3000); // the coalesced score write after the last events
  const costMarks = K > 1 ? await c.stack.history(leadWorkflow(leadId(c, 'p', 1))).catch(() => undefined) : undefined;
  return {
    startInputBytes: Buffer.byteLength(JSON.stringify(input)),
    a,
    b,
    enrol: enrolled,
    c: cBurst,
    d: dBurst,
    events,
    ...(costMarks?.length ? { cost: historyCost(costMarks) } : {}),
    ratios: {
      enrolToB: ratio(enrolled.processedRate, b.processedRate),
      eventsToC: ratio(events.processedRate, cBurst.processedRate),
      toA: { b: toA(b), enrol: toA(enrolled), c: toA(cBurst), d: toA(dBurst), events: toA(events) },
    },
  };
}
