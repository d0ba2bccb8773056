import { findKnee, keepStepping, matchedLatencies, processedSignals, stageUpsertedAt, stepVerdict, type CpuUse, type StepVerdict } from './analysis.js';
import { ensureStartInput, startBare } from './baselines.js';
import { bareId, enrol, historiesOf, latencyWithMissing, leadId, leadWorkflow, parkedCount, waitQuiet, waitUntil, type BenchContext } from './context.js';
import { cpuMeter, measureIdle, type IdleRates } from './cpu.js';
import type { LoadOp, LoadPlan } from './loadgen.js';
import { capacityPlan } from './options.js';
import { KEYS, runLimited } from './stack.js';
import type { LatencySummary } from './stats.js';
import { benchTickSignal } from './workflows.js';

// Phase 2: open-loop capacity curves. The load generator (its own process) offers a fixed rate
// for a step; afterwards, once the system is quiet, the step is judged from timestamps only: the
// generator's send times, the histories' task completions, the read model's stage_changed_at,
// the LeadStage upsert's event time, the SMTP sink's received_at. Nothing is polled during a step.

export interface StepResult extends StepVerdict {
  seconds: number;
  sent: number;
  errors: number;
  firstError?: string;
  /** Send → the workflow task that handled the signal completed (bare C and Leadflow alike). */
  processedLatencyMs: LatencySummary & { missing: number };
  /** Leadflow: hand-off samples and their latency from the crossing event's send. */
  handoff?: {
    samples: number;
    readModelMs: LatencySummary & { missing: number };
    searchAttributeMs: LatencySummary & { missing: number };
    smtpMs?: LatencySummary & { missing: number };
  };
  cpu: Record<string, CpuUse>;
  /** Whether the system was back at idle CPU within --drain-ms after the last send. */
  drained: boolean;
}

export interface CapacityResult {
  bare: StepResult[];
  leadflow: StepResult[];
  /** The sustained Leadflow step the hand-off target is read at. */
  target?: StepResult;
  /** Highest offered rate with p99 < 250 ms and no growing backlog (bare: signal processed; Leadflow: hand-off to sales_review). */
  knee: { bare?: number; leadflow?: number };
  handoffSamples: number;
}

/** Where hand-offs go in a step of `count` events: op i is one when the running share passes a whole number. */
export const isHandoff = (i: number, share: number): boolean => Math.floor((i + 1) * share) > Math.floor(i * share);

/** Prepares the targets: K parked A workflows, K Leadflow event leads, and hand-off leads at 40 points. */
async function prepare(c: BenchContext, handoffs: number): Promise<void> {
  const { options, progress } = c;
  const K = options.eventLeads;
  const input = await ensureStartInput(c);
  if (c.bare.a < K) {
    progress.start(`capacity: starting ${K - c.bare.a} parked A workflows`, K - c.bare.a);
    const from = c.bare.a;
    let done = 0;
    await runLimited(K - from, options.concurrency, async (i) => {
      await startBare(c, 'a', from + i, input);
      progress.update(++done);
    });
    c.bare.a = K;
    progress.finish();
  }
  if (c.leads.p < K) {
    const from = c.leads.p;
    progress.start(`capacity: enrolling ${K - from} event leads`, K - from);
    let done = 0;
    await runLimited(K - from, options.concurrency, async (i) => {
      await enrol(c, 'p', from + i);
      progress.update(++done);
    });
    c.leads.p = K;
    await waitUntil(() => parkedCount(c, 'p'), K, () => undefined, 180_000);
    progress.finish();
  }
  const hFrom = c.leads.h;
  if (handoffs > 0) {
    progress.start(`capacity: enrolling ${handoffs} hand-off leads and scoring each to 40 points`, handoffs);
    let done = 0;
    await runLimited(handoffs, options.concurrency, async (i) => {
      const id = leadId(c, 'h', hFrom + i);
      await enrol(c, 'h', hFrom + i);
      for (const n of [1, 2]) await c.stack.expectStatus('POST', `/v1/leads/${id}/events`, { eventId: `warm-${n}`, type: 'product.compared' }, [202]);
      progress.update(++done);
    });
    c.leads.h += handoffs;
    progress.finish();
    progress.start('capacity: waiting until every hand-off lead is at 40 points', handoffs);
    await waitUntil(
      async () => Number((await c.stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND score = 40 AND sequence_step >= 1`, [`${c.stack.runId}-h-%`])).rows[0]!.n),
      c.leads.h,
      (n) => progress.update(n),
      180_000,
    );
    progress.finish();
  }
}

interface StepPlan {
  label: string;
  kind: 'bare' | 'leadflow';
  rate: number;
  seconds: number;
}

async function runStep(c: BenchContext, plan: StepPlan, idle: IdleRates, nextHandoff: { i: number }, stepNo: number): Promise<StepResult> {
  const { options, progress, stack } = c;
  const K = options.eventLeads;
  const count = Math.max(1, Math.round(plan.rate * plan.seconds));
  const ops: LoadOp[] = [];
  const handoffLeads: string[] = [];
  let eventTarget = 0;
  for (let i = 0; i < count; i++) {
    const id = `s${stepNo}-${i}`;
    if (plan.kind === 'bare') ops.push({ target: bareId(c, 'a', i % K), id });
    else if (isHandoff(i, options.handoffShare) && nextHandoff.i < c.leads.h) {
      const lead = leadId(c, 'h', nextHandoff.i++);
      handoffLeads.push(lead);
      ops.push({ target: lead, id, type: 'pricing.viewed' });
    } else ops.push({ target: leadId(c, 'p', eventTarget++ % K), id, type: 'page.viewed' });
  }
  const loadPlan: LoadPlan =
    plan.kind === 'bare'
      ? { kind: 'signal', ratePerSecond: plan.rate, ops, maxInFlight: 2000, temporalAddress: stack.temporalAddress, namespace: stack.namespace }
      : { kind: 'http', ratePerSecond: plan.rate, ops, maxInFlight: 2000, apiUrl: stack.apiUrl, apiKey: KEYS.ingest };
  const meter = await cpuMeter(stack, idle);
  progress.start(plan.label, count);
  const load = await c.generator.run(loadPlan, (sent) => progress.update(sent));
  progress.finish(`${load.sentAt.length} sent, ${load.errors} errors, at most ${load.maxInFlightSeen} in flight`);
  const from = load.t0;
  const to = load.t0 + plan.seconds * 1000;
  progress.start(`${plan.label}: waiting until processed and quiet (at most ${options.drainMs / 1000} s)`, 0);
  const drained = await waitQuiet(c, idle, options.drainMs);
  const cpu = await meter.end(load.sentAt.length - load.errors);
  progress.finish(drained ? 'quiet' : 'still busy: judged as it is');

  progress.start(`${plan.label}: reading histories and timestamps`, 0);
  const workflows = plan.kind === 'bare' ? Array.from({ length: K }, (_, j) => bareId(c, 'a', j)) : [...Array.from({ length: K }, (_, j) => leadWorkflow(leadId(c, 'p', j))), ...handoffLeads.map(leadWorkflow)];
  const histories = await historiesOf(c, workflows);
  const sentAtById = new Map(ops.map((op, i) => [op.id, load.sentAt[i]!] as const).filter(([, t]) => t !== undefined));
  const processedById = new Map<string, number>();
  const signalName = plan.kind === 'bare' ? benchTickSignal.name : 'engagement';
  for (const marks of histories.values()) for (const s of processedSignals(marks, signalName, from)) if (s.opId !== undefined && sentAtById.has(s.opId)) processedById.set(s.opId, s.processedAt);
  const okSends = ops.filter((_, i) => load.answeredAt[i] !== null).length;
  const processedLatency = matchedLatencies(sentAtById, processedById);
  const processedMs = latencyWithMissing(processedLatency, Math.max(0, okSends - processedLatency.length));

  let handoff: StepResult['handoff'];
  let kneeLatency: number[] = processedLatency.concat(Array.from({ length: processedMs.missing }, () => Number.POSITIVE_INFINITY));
  if (plan.kind === 'leadflow') {
    const sentByLead = new Map(ops.map((op, i) => [op.target, load.sentAt[i]!] as const).filter(([lead]) => handoffLeads.includes(lead)));
    const { rows } = await stack.pool.query<{ id: string; at: Date }>(`SELECT id, stage_changed_at AS at FROM leads WHERE id = ANY($1) AND stage = 'sales_review'`, [handoffLeads]);
    const readModel = new Map(rows.map((r) => [r.id, r.at.getTime()] as const));
    const searchAttribute = new Map<string, number>();
    for (const lead of handoffLeads) {
      const at = stageUpsertedAt(histories.get(leadWorkflow(lead)) ?? [], 'sales_review', from);
      if (at !== undefined) searchAttribute.set(lead, at);
    }
    const rm = matchedLatencies(sentByLead, readModel);
    const sa = matchedLatencies(sentByLead, searchAttribute);
    let smtpMs: (LatencySummary & { missing: number }) | undefined;
    if (stack.sinkIsOurs) {
      const mail = await stack.pool.query<{ key: string; at: Date }>(
        `SELECT headers->>'x-leadflow-send-key' AS key, min(received_at) AS at FROM mailbox WHERE headers->>'x-leadflow-send-key' = ANY($1) GROUP BY 1`,
        [handoffLeads.map((l) => `${l}:sales-review:1`)],
      );
      const smtp = new Map(mail.rows.map((r) => [r.key.replace(/:sales-review:1$/, ''), r.at.getTime()] as const));
      const sm = matchedLatencies(sentByLead, smtp);
      smtpMs = latencyWithMissing(sm, handoffLeads.length - sm.length);
    }
    handoff = {
      samples: handoffLeads.length,
      readModelMs: latencyWithMissing(rm, handoffLeads.length - rm.length),
      searchAttributeMs: latencyWithMissing(sa, handoffLeads.length - sa.length),
      ...(smtpMs ? { smtpMs } : {}),
    };
    // The knee's latency for Leadflow: a hand-off counts when both the read model and the search attribute show it.
    kneeLatency = handoffLeads.map((lead) => {
      const t0 = sentByLead.get(lead);
      const a = readModel.get(lead);
      const b = searchAttribute.get(lead);
      return t0 === undefined || a === undefined || b === undefined ? Number.POSITIVE_INFINITY : Math.max(a, b) - t0;
    });
  }
  const verdict = stepVerdict({ offeredPerSecond: plan.rate, from, to, sentAt: load.sentAt.filter((t) => t !== undefined), processedAt: [...processedById.values()], kneeLatencyMs: kneeLatency });
  const result: StepResult = {
    ...verdict,
    seconds: plan.seconds,
    sent: load.sentAt.length,
    errors: load.errors,
    ...(load.firstError ? { firstError: load.firstError } : {}),
    processedLatencyMs: processedMs,
    ...(handoff ? { handoff } : {}),
    cpu,
    drained,
  };
  progress.finish(
    `offered ${verdict.measuredOfferedPerSecond}/s, processed ${verdict.processedPerSecond}/s, backlog ${verdict.backlogMid} → ${verdict.backlogEnd}, p99 ${verdict.kneeLatency.p99} ms: ${verdict.ok ? 'ok' : 'BROKE'}`,
  );
  return result;
}

/** Phase 2: the curves of bare C and Leadflow events, then the sustained target step. */
export async function runCapacity(c: BenchContext, onStep: (partial: CapacityResult) => Promise<void>): Promise<CapacityResult> {
  const { options, progress } = c;
  const plan = capacityPlan(options);
  await prepare(c, plan.handoffs);
  progress.start(`capacity: idle CPU over ${options.idleMs / 1000} s`, 0);
  const idle = await measureIdle(c.stack, options.idleMs);
  progress.finish();
  const result: CapacityResult = { bare: [], leadflow: [], knee: {}, handoffSamples: 0 };
  const nextHandoff = { i: c.leads.h - plan.handoffs };
  let stepNo = 0;
  for (const kind of ['bare', 'leadflow'] as const) {
    const steps = kind === 'bare' ? result.bare : result.leadflow;
    for (const rate of plan.steps) {
      if (!keepStepping(steps.at(-1))) break;
      const label = `capacity ${kind === 'bare' ? 'bare C' : 'Leadflow events'} at ${rate}/s for ${options.stepSeconds} s`;
      steps.push(await runStep(c, { label, kind, rate, seconds: options.stepSeconds }, idle, nextHandoff, stepNo++));
      result.knee = { bare: findKnee(result.bare), leadflow: findKnee(result.leadflow) };
      result.handoffSamples = [...result.leadflow, ...(result.target ? [result.target] : [])].reduce((n, s) => n + (s.handoff?.samples ?? 0), 0);
      await onStep(result);
    }
    if (!keepStepping(steps.at(-1))) {
      // A broken step leaves a backlog: let it drain before the next curve.
      await waitQuiet(c, idle, Math.max(options.drainMs, 60_000));
    }
  }
  const label = `capacity target: Leadflow events at a sustained ${options.targetRate}/s for ${options.targetSeconds} s`;
  result.target = await runStep(c, { label, kind: 'leadflow', rate: options.targetRate, seconds: options.targetSeconds }, idle, nextHandoff, stepNo++);
  result.handoffSamples = [...result.leadflow, result.target].reduce((n, s) => n + (s.handoff?.samples ?? 0), 0);
  await onStep(result);
  // An overloaded sustained step leaves a backlog: the scale phase should not start on top of it.
  if (!result.target.drained) {
    progress.start('capacity: letting the backlog drain (at most 5 minutes)', 0);
    progress.finish((await waitQuiet(c, idle, 300_000)) ? 'quiet' : 'still busy');
  }
  return result;
}
