import path from 'node:path';
import type { BurstResult } from './baselines.js';
import type { StepResult } from './capacity.js';
import { renderChart, type CurvePoint } from './chart.js';
import type { BenchResult } from './run.js';
import { formatNumber, mib, table, type LatencySummary } from './stats.js';

// The human report (stdout) and the chart of one run, from its result alone: the same functions
// render a result file written by an earlier run.

const PROCESS_LABELS: Record<string, string> = {
  worker: 'Leadflow worker',
  api: 'Leadflow API',
  baselineWorker: 'baseline worker',
  temporal: 'Temporal server',
  postgres: 'PostgreSQL',
  smtpSink: 'SMTP sink',
  bench: 'bench client (driver, not in "all")',
  all: 'all processes (idle subtracted)',
};

const lat = (l: LatencySummary & { missing?: number }) => [l.count, l.p50, l.p95, l.p99, l.max, l.missing ?? 0];

/** The point of a step on the capacity curves (the knee's latency: bare signal processed, Leadflow hand-off). */
export const curvePoint = (s: StepResult): CurvePoint => ({ offered: s.measuredOfferedPerSecond, processed: s.processedPerSecond, p99Ms: s.kneeLatency.p99 });

export function chartOf(r: BenchResult): string {
  const t = r.capacity?.target?.handoff;
  const b = r.baselines;
  return renderChart({
    title: `Leadflow bench (${r.mode}): capacity, hand-off latency and matched baselines`,
    subtitle: `${r.machine.cpuModel}, ${r.machine.cores} cores, node ${r.machine.node}, load avg ${r.load.oneMinute.mean} · ${r.startedAt}${r.partial ? ' · PARTIAL' : ''}`,
    latency: t
      ? [
          { label: `${r.options.targetRate}/s → sales_review (read model)`, ...t.readModelMs },
          { label: `${r.options.targetRate}/s → LeadStage search attribute`, ...t.searchAttributeMs },
          ...(t.smtpMs ? [{ label: `${r.options.targetRate}/s → SMTP sink`, ...t.smtpMs }] : []),
        ]
      : [],
    latencyTargetMs: 250,
    latencyTitle: `hand-off latency at a sustained ${r.options.targetRate} events/s (${t?.samples ?? 0} samples)`,
    ratios: b
      ? [
          { label: 'enrolment\n/ B', value: b.ratios.enrolToB },
          { label: 'events\n/ C', value: b.ratios.eventsToC },
          { label: 'enrolment\n/ A', value: b.ratios.toA.enrol },
          { label: 'events\n/ A', value: b.ratios.toA.events },
        ]
      : [],
    ratioTarget: 0.85,
    ...(r.capacity
      ? {
          curves: [
            { label: 'bare C (signal → processed)', points: r.capacity.bare.map(curvePoint) },
            // The sustained target step is a point of the Leadflow curve too.
            { label: 'Leadflow events (hand-off to sales_review)', points: [...r.capacity.leadflow, ...(r.capacity.target ? [r.capacity.target] : [])].map(curvePoint).sort((x, y) => x.offered - y.offered) },
          ],
          curveP99LimitMs: 250,
        }
      : {}),
  });
}

function burstRows(b: NonNullable<BenchResult['baselines']>): Array<[string, BurstResult]> {
  return [
    ['A start → park', b.a],
    ['B start → activity → park', b.b],
    ['Leadflow POST /v1/leads', b.enrol],
    ['C signal → parked A', b.c],
    ['D signal → one activity', b.d],
    ['Leadflow POST .../events', b.events],
  ];
}

function stepRows(steps: StepResult[], kind: string) {
  return steps.map((s) => [
    kind,
    s.offeredPerSecond,
    s.measuredOfferedPerSecond,
    `${s.offeredSecondMin}–${s.offeredSecondMax}`,
    s.processedPerSecond,
    `${s.backlogMid} → ${s.backlogEnd}`,
    s.processedLatencyMs.p50,
    s.processedLatencyMs.p99,
    s.handoff ? s.handoff.samples : 'n/a',
    s.handoff ? s.handoff.readModelMs.p99 : 'n/a',
    s.handoff ? s.handoff.searchAttributeMs.p99 : 'n/a',
    s.handoff?.smtpMs ? s.handoff.smtpMs.p99 : 'n/a',
    s.cpu.all?.msPerOp ?? Number.NaN,
    s.ok ? 'ok' : s.backlogGrowing ? 'backlog' : s.underOffered ? 'under-offered' : 'p99',
  ]);
}

export function report(r: BenchResult): string {
  const sections: string[] = [
    `Leadflow bench (${r.mode}), ${r.startedAt}, ${r.durationSeconds} s; Temporal: ${r.setup?.temporal ?? 'not started'}; ${r.topology.workers} worker process(es)${r.partial ? '; PARTIAL RESULT' : ''}`,
    ...(r.error ? [`error: ${r.error.split('\n')[0]}`] : []),
    ...(Object.keys(r.settings).length ? [`settings from the environment: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`] : []),
    `machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${formatNumber(r.machine.ramMiB)} MiB RAM, node ${r.machine.node}; load average (1 min) min ${r.load.oneMinute.min} / mean ${r.load.oneMinute.mean} / max ${r.load.oneMinute.max}`,
  ];
  const b = r.baselines;
  if (b) {
    sections.push(
      '',
      `Matched baselines (bursts, ${r.options.concurrency} in flight; each baseline workflow carries a lead's start input, ${formatNumber(b.startInputBytes)} B of JSON, through the same codec; processed from history timestamps)`,
      table(
        ['what', 'count', 'answered/s', 'processed/s', 'processed p50 ms', 'processed p99 ms', 'unprocessed', 'errors', 'CPU ms/op (all)'],
        burstRows(b).map(([name, x]) => [name, x.count, x.ackRate, x.processedRate, x.processedLatencyMs.p50, x.processedLatencyMs.p99, x.unprocessed, x.errors, x.cpu.all?.msPerOp ?? Number.NaN]),
      ),
      ...(b.cost
        ? [
            `cost per input, from one lead's own history: enrolment to the parked lead ${b.cost.enrolment.historyEvents} history events, ${b.cost.enrolment.activities} activities; ` +
              `an engagement event ${b.cost.event.historyEvents} history events, ${b.cost.event.activities} activities on average`,
          ]
        : []),
      `ratios (processed): enrolment / B ${b.ratios.enrolToB}, events / C ${b.ratios.eventsToC}; to A: B ${b.ratios.toA.b}, enrolment ${b.ratios.toA.enrol}, C ${b.ratios.toA.c}, D ${b.ratios.toA.d}, events ${b.ratios.toA.events}`,
      '',
      'CPU ms per operation and process (over each burst until quiet, minus each process\'s idle CPU over as long)',
      table(
        ['process', ...burstRows(b).map(([name]) => name)],
        Object.keys(PROCESS_LABELS).map((p) => [PROCESS_LABELS[p]!, ...burstRows(b).map(([, x]) => x.cpu[p]?.msPerOp ?? Number.NaN)]),
      ),
    );
  }
  const c = r.capacity;
  if (c) {
    sections.push(
      '',
      `Capacity (open loop, load generator in its own process; ${r.options.stepSeconds} s steps; Leadflow: ${r.options.handoffShare * 100} % of the events cross the threshold)`,
      table(
        ['curve', 'rate', 'offered/s', 'per second', 'processed/s', 'backlog mid → end', 'processed p50', 'processed p99', 'hand-offs', 'read model p99', 'search attr p99', 'SMTP p99', 'CPU ms/ev', 'verdict'],
        [...stepRows(c.bare, 'bare C'), ...stepRows(c.leadflow, 'Leadflow'), ...(c.target ? stepRows([c.target], `Leadflow sustained ${r.options.targetSeconds} s`) : [])],
      ),
      `knee (p99 < 250 ms, no growing backlog): bare C ${c.knee.bare ?? 'below the lowest step'}/s, Leadflow ${c.knee.leadflow ?? 'below the lowest step'}/s; ${c.handoffSamples} hand-off samples in all`,
    );
    const h = c.target?.handoff;
    if (h) {
      sections.push(
        '',
        `Hand-off latency at a sustained ${r.options.targetRate} events/s (ms from the crossing event's send; missing: not there when the step was read)`,
        table(
          ['to', 'n', 'p50', 'p95', 'p99', 'max', 'missing'],
          [['sales_review: read model (stage_changed_at)', ...lat(h.readModelMs)], ['sales_review: LeadStage search attribute (upsert event time)', ...lat(h.searchAttributeMs)], ...(h.smtpMs ? [['SMTP sink (received_at)', ...lat(h.smtpMs)]] : [])],
        ),
      );
    }
  }
  const s = r.scale;
  if (s) {
    sections.push(
      '',
      'Parked leads',
      table(
        ['leads', 'running wf', 'worker RSS MiB', 'worker heap MiB', 'sticky cache', 'API RSS MiB', 'Temporal RSS MiB', 'Temporal db MiB', 'Postgres MiB'],
        s.checkpoints.map((p) => [
          p.leads,
          p.runningLeadWorkflows,
          mib(p.workerRssBytes),
          p.workerHeapUsedBytes === undefined ? Number.NaN : mib(p.workerHeapUsedBytes),
          p.workerStickyCacheSize ?? Number.NaN,
          mib(p.apiRssBytes),
          p.temporalRssBytes === undefined ? Number.NaN : mib(p.temporalRssBytes),
          p.temporalDbBytes === undefined ? Number.NaN : mib(p.temporalDbBytes),
          mib(p.postgresBytes),
        ]),
      ),
      `enrolment through the API: ${s.segments.map((g) => `${g.from}→${g.to} in ${formatNumber(g.processedSeconds)} s (${g.processedRate}/s processed, ${g.ackRate}/s answered)`).join('; ') || 'none'}; ` +
        `worker RSS growth 1k → 10k: ${formatNumber(s.workerRssGrowth1kTo10kPercent)} %; per added lead: Temporal ${formatNumber(s.temporalDbBytesPerLead ?? Number.NaN)} B, Postgres ${formatNumber(s.postgresBytesPerLead ?? Number.NaN)} B`,
    );
    if (s.cacheSweep?.length) {
      sections.push(
        '',
        'Sticky cache sweep (a fresh worker per value; events round robin over more leads than the smallest cache)',
        table(
          ['WORKER_MAX_CACHED_WORKFLOWS', 'leads', 'events', 'worker CPU ms/event', 'all CPU ms/event', 'p50 ms', 'p99 ms', 'worker RSS MiB', 'sticky cache'],
          s.cacheSweep.map((p) => [p.maxCachedWorkflows, p.leads, p.events, p.workerCpuMsPerEvent, p.cpu.all?.msPerOp ?? Number.NaN, p.processedLatencyMs.p50, p.processedLatencyMs.p99, mib(p.workerRssBytes), p.workerStickyCacheSize ?? Number.NaN]),
        ),
      );
    }
  }
  const bulk = r.bulk;
  if (bulk && (bulk.import || bulk.campaign || bulk.importScale)) {
    const jobs = [bulk.import, bulk.campaign].filter((j): j is NonNullable<typeof j> => !!j);
    sections.push(
      '',
      `Bulk work (issue 16): a CSV import, then a campaign over its leads; the API probed at ${r.options.probeRate}/s per route meanwhile`,
      table(
        ['job', 'rows', 'seconds', 'per second', 'status', 'counts', 'detail p50 ms', 'detail p99 ms', 'enrol p50 ms', 'enrol p99 ms', 'welcome p50 ms', 'welcome p99 ms', 'probe errors'],
        jobs.map((j) => [j.what, j.rows, j.seconds, j.rate, j.status, Object.entries(j.counts).map(([k, v]) => `${k} ${v}`).join(', '), j.api.leadDetailMs.p50, j.api.leadDetailMs.p99, j.api.enrolMs.p50, j.api.enrolMs.p99, j.api.welcomeMs?.p50 ?? Number.NaN, j.api.welcomeMs?.p99 ?? Number.NaN, j.api.errors]),
      ),
      ...(bulk.import?.parkedSeconds !== undefined ? [`every imported lead parked (${bulk.import.parkedWhen ?? 'first email sent'}) ${formatNumber(bulk.import.parkedSeconds)} s after the import was posted`] : []),
      ...jobs.filter((j) => j.cpu).map((j) => `CPU per ${j === bulk.import ? 'imported lead (until parked)' : 'enrolled lead'}, idle out: ${Object.entries(j.cpu!).map(([p, u]) => `${p} ${formatNumber(u.msPerOp)} ms`).join(', ')}`),
    );
    const sc = bulk.importScale;
    if (sc) {
      sections.push(
        '',
        'The imported leads as parked leads (settled before and after; the crossings are sampled while the import runs)',
        table(
          ['when', 'parked', 'worker RSS MiB', 'sticky cache', 'Temporal DB MiB', 'Postgres MiB'],
          [
            ['before the import', sc.before.leads, mib(sc.before.workerRssBytes), sc.before.workerStickyCacheSize ?? Number.NaN, sc.before.temporalDbBytes !== undefined ? mib(sc.before.temporalDbBytes) : Number.NaN, mib(sc.before.postgresBytes)],
            ...sc.crossings.map((x) => [`${formatNumber(x.t)} s into the import`, x.parked, mib(x.workerRssBytes), x.workerStickyCacheSize ?? Number.NaN, Number.NaN, Number.NaN]),
            ['after, settled', sc.after.leads, mib(sc.after.workerRssBytes), sc.after.workerStickyCacheSize ?? Number.NaN, sc.after.temporalDbBytes !== undefined ? mib(sc.after.temporalDbBytes) : Number.NaN, mib(sc.after.postgresBytes)],
          ],
        ),
        `per imported lead: Temporal ${sc.temporalDbBytesPerLead !== undefined ? `${formatNumber(sc.temporalDbBytesPerLead / 1024)} KB` : 'not measured'}, Postgres ${formatNumber(sc.postgresBytesPerLead / 1024)} KB`,
      );
    }
  }
  sections.push('', 'Targets (reported, not asserted)', table(['target', 'value', 'limit', 'met'], r.targets.map((x) => [x.target, x.value, x.limit, x.met ? 'yes' : Number.isFinite(x.value) ? 'NO' : 'not measured'])));
  for (const p of r.profile ?? []) {
    sections.push('', `Worker CPU profile ${path.basename(p.file)}: ${p.sampledCpuSeconds} s busy of ${p.profiledSeconds} s`, table(['area', 'self ms', '%'], p.byArea.slice(0, 10).map((a) => [a.area, a.selfMs, a.share])));
  }
  return sections.join('\n');
}
