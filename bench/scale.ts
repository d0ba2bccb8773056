import { LEAD_WORKFLOW_TYPE } from '../workflows/messages.js';
import { matchedLatencies, processedSignals, type CpuUse } from './analysis.js';
import { enrol, historiesOf, latencyWithMissing, leadId, leadWorkflow, parkedCount, waitQuiet, waitUntil, type BenchContext } from './context.js';
import { cpuMeter, measureIdle } from './cpu.js';
import type { LoadOp } from './loadgen.js';
import { KEYS, runLimited, sleep } from './stack.js';
import { growthPercent, mib, rate, type LatencySummary } from './stats.js';

// Phase 3: parked leads. Enrol through the API (concurrency in flight) up to --parked, with
// checkpoints at 1k / 10k / 100k: worker and API RSS, the worker's heap and sticky cache, the
// Temporal server's RSS and database, Postgres. Then, with --cache-sweep, replay cost against
// memory for each WORKER_MAX_CACHED_WORKFLOWS value.

export interface ParkedCheckpoint {
  leads: number;
  runningLeadWorkflows: number;
  workerRssBytes: number;
  apiRssBytes: number;
  workerHeapUsedBytes?: number;
  workerStickyCacheSize?: number;
  temporalRssBytes?: number;
  temporalDbBytes?: number;
  postgresBytes: number;
}

export interface EnrolSegment {
  from: number;
  to: number;
  ackSeconds: number;
  /** From the first request until the last lead's read model showed it parked (its updated_at). */
  processedSeconds: number;
  ackRate: number;
  processedRate: number;
  errors: number;
  firstError?: string;
}

export interface CacheSweepPoint {
  maxCachedWorkflows: number;
  /** Distinct leads the events went to, round robin (more leads than cache slots: replays). */
  leads: number;
  events: number;
  workerCpuMsPerEvent: number;
  cpu: Record<string, CpuUse>;
  processedLatencyMs: LatencySummary & { missing: number };
  workerRssBytes: number;
  workerStickyCacheSize?: number;
}

export interface ScaleResult {
  checkpoints: ParkedCheckpoint[];
  segments: EnrolSegment[];
  enrolSeconds: number;
  /** Worker RSS growth between the checkpoints at 1,000 and 10,000 leads (NaN unless both were taken). */
  workerRssGrowth1kTo10kPercent: number;
  /** Per lead added between the first and the last checkpoint. */
  temporalDbBytesPerLead?: number;
  postgresBytesPerLead?: number;
  cacheSweep?: CacheSweepPoint[];
}

/** The checkpoints of a scale run from `have` leads to `parked`: 1k, 10k, 100k on the way, and the end. */
export function scaleCheckpoints(have: number, parked: number): number[] {
  return [...new Set([...[1_000, 10_000, 100_000].filter((n) => n > have && n < parked), parked])].filter((n) => n > have);
}

export async function checkpoint(c: BenchContext, leads: number): Promise<ParkedCheckpoint> {
  const { options, progress, stack } = c;
  progress.start(`parked: ${leads} leads, settling ${options.settleMs / 1000} s before sampling`, 0);
  await sleep(options.settleMs);
  const samples: Array<{ worker: number; api: number }> = [];
  for (let i = 0; i < 3; i++) {
    const r = await stack.rss();
    samples.push({ worker: r.worker, api: r.api });
    await sleep(Math.min(1000, options.settleMs / 2));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const running = (await stack.client.workflow.count(`WorkflowType="${LEAD_WORKFLOW_TYPE}" AND ExecutionStatus="Running" AND WorkflowId STARTS_WITH "lead-${stack.runId}-"`).catch(() => undefined))?.count;
  const heap = await stack.workerMetric(/^leadflow_nodejs_heap_size_used_bytes/);
  const sticky = await stack.workerMetric(/sticky_cache_size/);
  const temporalRss = (await stack.rss()).temporal;
  const temporalDb = await stack.temporalDbBytes();
  const point: ParkedCheckpoint = {
    leads,
    runningLeadWorkflows: running ?? Number.NaN,
    workerRssBytes: median(samples.map((s) => s.worker)),
    apiRssBytes: median(samples.map((s) => s.api)),
    ...(heap !== undefined ? { workerHeapUsedBytes: heap } : {}),
    ...(sticky !== undefined ? { workerStickyCacheSize: sticky } : {}),
    ...(temporalRss !== undefined ? { temporalRssBytes: temporalRss } : {}),
    ...(temporalDb !== undefined ? { temporalDbBytes: temporalDb } : {}),
    postgresBytes: await stack.postgresBytes(),
  };
  progress.finish(`worker RSS ${mib(point.workerRssBytes)} MiB, API RSS ${mib(point.apiRssBytes)} MiB, ${point.runningLeadWorkflows} lead workflows running`);
  return point;
}

/** Phase 3. `onCheckpoint` writes the partial result (a 100k run takes hours). */
export async function runScale(c: BenchContext, onCheckpoint: (partial: ScaleResult) => Promise<void>): Promise<ScaleResult> {
  const { options, progress } = c;
  const total = () => c.leads.p + c.leads.h;
  const result: ScaleResult = { checkpoints: [], segments: [], enrolSeconds: 0, workerRssGrowth1kTo10kPercent: Number.NaN };
  const summarise = () => {
    const at = (n: number) => result.checkpoints.find((p) => p.leads === n);
    const k1 = at(1_000);
    const k10 = at(10_000);
    result.workerRssGrowth1kTo10kPercent = k1 && k10 ? growthPercent(k1.workerRssBytes, k10.workerRssBytes) : Number.NaN;
    const first = result.checkpoints[0];
    const last = result.checkpoints.at(-1);
    const added = first && last ? last.leads - first.leads : 0;
    if (added > 0 && first && last) {
      if (first.temporalDbBytes !== undefined && last.temporalDbBytes !== undefined) result.temporalDbBytesPerLead = Math.round((last.temporalDbBytes - first.temporalDbBytes) / added);
      result.postgresBytesPerLead = Math.round((last.postgresBytes - first.postgresBytes) / added);
    }
    result.enrolSeconds = Math.round(result.segments.reduce((n, s) => n + s.processedSeconds, 0) * 10) / 10;
  };
  // The first checkpoint is where this phase starts (0 leads when it runs alone): bytes per lead are growth from there.
  result.checkpoints.push(await checkpoint(c, total()));
  await onCheckpoint(result);
  for (const stop of scaleCheckpoints(total(), options.parked)) {
    const from = c.leads.p;
    const count = stop - total();
    progress.start(`parked: enrolling ${count} leads (to ${stop}) through POST /v1/leads`, count);
    let done = 0;
    let errors = 0;
    let firstError: string | undefined;
    const t0 = Date.now();
    await runLimited(count, options.concurrency, async (i) => {
      try {
        await enrol(c, 'p', from + i);
      } catch (error) {
        errors += 1;
        firstError ??= (error as Error).message;
      }
      progress.update(++done);
    });
    const ackAt = Date.now();
    c.leads.p += count;
    progress.finish(`${count - errors} answered, ${rate(count - errors, ackAt - t0)}/s`);
    progress.start(`parked: waiting until the ${count - errors} leads are parked`, count - errors);
    await waitUntil(async () => (await parkedCount(c, 'p')) - from, count - errors, (n) => progress.update(n), 300_000, 2000);
    const { rows } = await c.stack.pool.query<{ at: Date }>(`SELECT max(updated_at) AS at FROM leads WHERE id LIKE $1 AND created_at >= $2`, [`${c.stack.runId}-p-%`, new Date(t0)]);
    const processedAt = rows[0]?.at?.getTime() ?? Date.now();
    progress.finish();
    result.segments.push({
      from: from + c.leads.h,
      to: stop,
      ackSeconds: (ackAt - t0) / 1000,
      processedSeconds: (processedAt - t0) / 1000,
      ackRate: rate(count - errors, ackAt - t0),
      processedRate: rate(count - errors, processedAt - t0),
      errors,
      ...(firstError ? { firstError } : {}),
    });
    result.checkpoints.push(await checkpoint(c, total()));
    summarise();
    await onCheckpoint(result);
  }
  summarise();
  if (options.cacheSweep.length) {
    result.cacheSweep = [];
    for (const value of options.cacheSweep) {
      result.cacheSweep.push(await sweepPoint(c, value));
      await onCheckpoint(result);
    }
  }
  return result;
}

/** One point of the cache sweep: a fresh worker with the cache bounded to `value`, events round robin over parked leads. */
async function sweepPoint(c: BenchContext, value: number): Promise<CacheSweepPoint> {
  const { options, progress, stack } = c;
  progress.start(`cache sweep: restarting the worker with WORKER_MAX_CACHED_WORKFLOWS=${value}`, 0);
  const idleBefore = await measureIdle(stack, options.idleMs);
  await stack.restartWorkers({ WORKER_MAX_CACHED_WORKFLOWS: String(value) });
  // A fresh worker is busy for a while after its ready line (polls, JIT): its idle is measured once it is back at the old one's.
  await waitQuiet(c, idleBefore, Math.max(options.drainMs, 10_000));
  const idle = await measureIdle(stack, options.idleMs);
  progress.finish();
  const events = options.sweepRate * options.sweepSeconds;
  // Three events per lead: the first replays the lead into the fresh cache, the next two hit or miss by the bound.
  const leads = Math.max(1, Math.min(c.leads.p - options.eventLeads, Math.ceil(events / 3)));
  const first = options.eventLeads; // the event leads of the other phases carry points already
  const ops: LoadOp[] = Array.from({ length: events }, (_, i) => ({ target: leadId(c, 'p', first + (i % leads)), id: `sw${value}-${i}`, type: 'email.opened' }));
  const meter = await cpuMeter(stack, idle);
  progress.start(`cache sweep ${value}: ${options.sweepRate} events/s over ${leads} leads for ${options.sweepSeconds} s`, events);
  const load = await c.generator.run({ kind: 'http', ratePerSecond: options.sweepRate, ops, maxInFlight: 2000, apiUrl: stack.apiUrl, apiKey: KEYS.ingest }, (n) => progress.update(n));
  progress.finish(`${load.errors} errors`);
  await waitQuiet(c, idle, options.drainMs);
  const cpu = await meter.end(events - load.errors);
  const rss = await stack.rss();
  const sticky = await stack.workerMetric(/sticky_cache_size/);
  const targets = [...new Set(ops.map((o) => leadWorkflow(o.target)))];
  const histories = await historiesOf(c, targets);
  const sentAt = new Map(ops.map((o, i) => [o.id, load.sentAt[i]!] as const));
  const processed = new Map<string, number>();
  for (const marks of histories.values()) for (const s of processedSignals(marks, 'engagement', load.t0)) if (s.opId !== undefined && sentAt.has(s.opId)) processed.set(s.opId, s.processedAt);
  const latencies = matchedLatencies(sentAt, processed);
  const point: CacheSweepPoint = {
    maxCachedWorkflows: value,
    leads,
    events,
    workerCpuMsPerEvent: cpu.worker?.msPerOp ?? Number.NaN,
    cpu,
    processedLatencyMs: latencyWithMissing(latencies, Math.max(0, events - load.errors - latencies.length)),
    workerRssBytes: rss.worker,
    ...(sticky !== undefined ? { workerStickyCacheSize: sticky } : {}),
  };
  progress.log(`cache sweep ${value}: worker ${point.workerCpuMsPerEvent} ms CPU per event, p99 ${point.processedLatencyMs.p99} ms, worker RSS ${mib(point.workerRssBytes)} MiB`);
  return point;
}
