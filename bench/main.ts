import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { renderChart } from './chart.js';
import { Progress } from './progress.js';
import { runBench, type BenchOptions, type BenchResult } from './run.js';
import { benchFailures } from './verdict.js';
import { formatNumber, mib, table } from './stats.js';

const HELP = `npm run bench -- [options]

Throughput, hand-off latency and scale of Leadflow, measured against the bare Temporal engine
on the same server in one run. Starts its own Temporal dev server, embedded PostgreSQL and SMTP
sink in a temporary folder (or uses TEMPORAL_ADDRESS, DATABASE_URL, SMTP_URL), runs the worker
(worker/main.ts) and the API (src/server/main.ts) as separate processes, and measures:

  1. bare engine: N trivial workflows started; M signal-with-start over K trivial workflows
  2. Leadflow: N enrolments (POST /v1/leads); M events (POST /v1/leads/{id}/events) over K leads
  3. hand-off latency (threshold-crossing event → sales_review via GET /v1/leads/{id}, and →
     sales notification stored by the SMTP sink), at idle and under a steady event load
  4. parked leads: worker/API memory and Temporal/Postgres disk at N and at --parked leads
  5. worker CPU ms per engagement event

  --quick             the short run CI does (under two minutes): N=100, M=200, K=20,
                      10 hand-offs, 10 events/s of load, 200 parked; results go to
                      bench/results/quick/ (git-ignored)
  --starts N          workflows started / leads enrolled (default 1000)
  --events M          signals / engagement events (default 2000)
  --event-leads K     workflows / leads the events are spread over (default 200)
  --handoffs H        hand-offs measured at idle and again under load (default 100)
  --load R            background engagement events per second during the loaded hand-offs (default 50;
                      --quick: 10, under this 2-core machine's knee, docs/benchmarks.md)
  --parked P          leads parked in nurture timers at the end (default 10000; 100000 for the big run)
  --concurrency C     requests in flight in the throughput phases (default 32)
  --poll-ms MS        how often the hand-off probe asks GET /v1/leads/{id} (default 10)
  --settle-ms MS      quiet time before memory is sampled (default 5000; --quick: 1000)
  --handoff-timeout-ms MS
                      a hand-off slower than this counts as failed (default 20000); after 3
                      in a row the phase stops
  --cluster           run on the production topology (npm run cluster: the pinned Temporal server
                      as four services on PostgreSQL, built once into .tools/) instead of the
                      dev server
  --workers W         Leadflow worker processes (default 1); memory and CPU are their sums
  --cpu-prof          run the worker under node --cpu-prof and summarise where its CPU goes
  --out DIR           where the JSON and SVG go (default bench/results, --quick: bench/results/quick)
  --keep-data         keep the temporary Temporal and Postgres data folder
  -h, --help          this text

Targets are reported, never asserted. The exit code is 1 when the bench failed to run, or when
any hand-off failed or was not attempted, or any request failed (the results are written
first, and the reasons printed); 0 otherwise.`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    starts: { type: 'string' },
    events: { type: 'string' },
    'event-leads': { type: 'string' },
    handoffs: { type: 'string' },
    load: { type: 'string' },
    parked: { type: 'string' },
    concurrency: { type: 'string' },
    'poll-ms': { type: 'string' },
    'settle-ms': { type: 'string' },
    'handoff-timeout-ms': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    workers: { type: 'string' },
    out: { type: 'string' },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`bench: --${name} must be a positive integer (got "${raw}")`);
    process.exit(2);
  }
  return value;
};

const quick = values.quick;
const repo = fileURLToPath(new URL('..', import.meta.url));
const options: BenchOptions = {
  quick,
  starts: positive('starts', values.starts, quick ? 100 : 1000),
  events: positive('events', values.events, quick ? 200 : 2000),
  eventLeads: positive('event-leads', values['event-leads'], quick ? 20 : 200),
  handoffs: positive('handoffs', values.handoffs, quick ? 10 : 100),
  loadRate: positive('load', values.load, quick ? 10 : 50),
  parked: positive('parked', values.parked, quick ? 200 : 10_000),
  concurrency: positive('concurrency', values.concurrency, 32),
  pollMs: positive('poll-ms', values['poll-ms'], 10),
  settleMs: positive('settle-ms', values['settle-ms'], quick ? 1000 : 5000),
  handoffTimeoutMs: positive('handoff-timeout-ms', values['handoff-timeout-ms'], 20_000),
  cpuProf: values['cpu-prof'],
  outDir: path.resolve(values.out ?? path.join(repo, 'bench', 'results', ...(quick ? ['quick'] : []))),
  keepData: values['keep-data'],
  cluster: values.cluster,
  workers: positive('workers', values.workers, 1),
};
if (options.eventLeads > options.starts) {
  console.error('bench: --event-leads cannot exceed --starts (the events go to enrolled leads)');
  process.exit(2);
}
// Each event lead gets M/K points of page.viewed, and the background load adds 1 point per
// event spread over all N leads: keep them under the 50-point threshold.
if (options.events / options.eventLeads >= 40) {
  console.error('bench: --events / --event-leads must stay under 40 (the leads would reach sales review)');
  process.exit(2);
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
const progress = new Progress();
let result: BenchResult;
try {
  result = await runBench(options, progress);
} catch (error) {
  progress.log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
}

await fs.mkdir(options.outDir, { recursive: true });
const stamp = result.startedAt.replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
const base = path.join(options.outDir, `${result.mode}-${options.cluster ? 'cluster' : 'dev'}-w${options.workers}-${stamp}`);
await fs.writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
await fs.writeFile(`${base}.svg`, chartOf(result));
console.log(report(result));
console.log(`\nresults: ${path.relative(process.cwd(), `${base}.json`)}  chart: ${path.relative(process.cwd(), `${base}.svg`)}`);
const failures = benchFailures(result);
for (const failure of failures) console.error(`bench: FAILED: ${failure}`);
process.exit(failures.length === 0 ? 0 : 1);

function chartOf(r: BenchResult): string {
  const h = r.handoff;
  return renderChart({
    title: `Leadflow bench (${r.mode}): hand-off latency and throughput vs the bare engine`,
    subtitle: `${r.machine.cpuModel}, ${r.machine.cores} cores, node ${r.machine.node}, load avg ${r.load.oneMinute.mean} (shared machine) · ${r.startedAt}`,
    latency: [
      { label: 'idle → sales_review (API)', ...h.idle.reviewMs },
      { label: 'idle → SMTP accepted', ...h.idle.smtpMs },
      { label: `${r.options.loadRate} ev/s → sales_review (API)`, ...h.load.reviewMs },
      { label: `${r.options.loadRate} ev/s → SMTP accepted`, ...h.load.smtpMs },
    ],
    latencyTargetMs: 500,
    ratios: [
      { label: 'enrol\nacked', value: r.ratios.enrolAck },
      { label: 'enrol\nprocessed', value: r.ratios.enrolProcessed },
      { label: 'events\nacked', value: r.ratios.eventsAck },
      { label: 'events\nprocessed', value: r.ratios.eventsProcessed },
      { label: 'enrol\nCPU cost', value: r.ratios.enrolCpuCost },
      { label: 'events\nCPU cost', value: r.ratios.eventsCpuCost },
    ],
    ratioTarget: 0.7,
  });
}

function report(r: BenchResult): string {
  const t = (x: { ackRate: number; processedRate: number; requestLatencyMs: { p50: number; p99: number }; count: number; errors: number }) => [
    x.count,
    x.ackRate,
    x.processedRate,
    x.requestLatencyMs.p50,
    x.requestLatencyMs.p99,
    x.errors,
  ];
  const lat = (name: string, l: { p50: number; p95: number; p99: number; max: number; count: number }) => [name, l.count, l.p50, l.p95, l.p99, l.max];
  const parked = r.parked.checkpoints;
  const sections = [
    `Leadflow bench (${r.mode}), ${r.startedAt}, ${r.durationSeconds} s; Temporal: ${r.setup.temporal}; ${r.topology?.workers ?? 1} worker process(es)`,
    ...(Object.keys(r.settings).length ? [`settings from the environment: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`] : []),
    `machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${formatNumber(r.machine.ramMiB)} MiB RAM, node ${r.machine.node}; load average (1 min) min ${r.load.oneMinute.min} / mean ${r.load.oneMinute.mean} / max ${r.load.oneMinute.max} (shared machine: numbers are noisy)`,
    '',
    ...(r.cost
      ? [
          'Cost per input, from one lead\'s own history (engine v1: as issue 13 measured it)',
          table(
            ['input', 'history events v2', 'activities v2', 'history events v1', 'activities v1'],
            [
              ['enrolment to the parked lead', r.cost.enrolment.historyEvents, r.cost.enrolment.activities, r.cost.v1.enrolment.historyEvents, r.cost.v1.enrolment.activities],
              ['engagement event (average)', r.cost.event.historyEvents, r.cost.event.activities, r.cost.v1.event.historyEvents, r.cost.v1.event.activities],
            ],
          ),
          '',
        ]
      : []),
    'Throughput (ops/s; acked = client got its answer, processed = worker done)',
    table(
      ['what', 'count', 'acked/s', 'processed/s', 'req p50 ms', 'req p99 ms', 'errors'],
      [
        ['bare engine: start trivial workflow', ...t(r.baseline.start)],
        ['Leadflow: POST /v1/leads', ...t(r.leadflow.enrol)],
        ['bare engine: signal-with-start', ...t(r.baseline.signal)],
        ['Leadflow: POST /v1/leads/{id}/events', ...t(r.leadflow.events)],
        ['Leadflow: enrol to the parked target', ...t(r.leadflow.enrolToParked)],
      ],
    ),
    '',
    'Hand-off latency (ms from the threshold-crossing POST)',
    table(
      ['to', 'n', 'p50', 'p95', 'p99', 'max'],
      [
        lat('idle: sales_review (API)', r.handoff.idle.reviewMs),
        lat('idle: SMTP accepted', r.handoff.idle.smtpMs),
        lat(`${r.options.loadRate} ev/s: sales_review (API)`, r.handoff.load.reviewMs),
        lat(`${r.options.loadRate} ev/s: SMTP accepted`, r.handoff.load.smtpMs),
      ],
    ),
    `background load achieved ${r.handoff.load.load?.achievedPerSecond}/s (${r.handoff.load.load?.errors} errors); failures idle ${r.handoff.idle.failures}, loaded ${r.handoff.load.failures}; not attempted (3 timeouts in a row) idle ${r.handoff.idle.skipped}, loaded ${r.handoff.load.skipped}`,
    '',
    'Parked leads (waiting in nurture timers)',
    table(
      ['leads', 'running wf', 'worker RSS MiB', 'worker heap MiB', 'sticky cache', 'API RSS MiB', 'Temporal RSS MiB', 'Temporal db MiB', 'Postgres MiB'],
      parked.map((c) => [
        c.leads,
        c.runningLeadWorkflows,
        mib(c.workerRssBytes),
        c.workerHeapUsedBytes === undefined ? Number.NaN : mib(c.workerHeapUsedBytes),
        c.workerStickyCacheSize ?? Number.NaN,
        mib(c.apiRssBytes),
        c.temporalRssBytes === undefined ? Number.NaN : mib(c.temporalRssBytes),
        c.temporalDbBytes === undefined ? Number.NaN : mib(c.temporalDbBytes),
        mib(c.postgresBytes),
      ]),
    ),
    `worker RSS growth ${parked[0]?.leads} → ${parked.at(-1)?.leads}: ${r.parked.workerRssGrowthPercent}%; per added lead: Temporal db ${formatNumber(r.parked.temporalDbBytesPerLead ?? Number.NaN)} B, Postgres ${formatNumber(r.parked.postgresBytesPerLead)} B`,
    '',
    'CPU ms per operation (from /proc; "bench" is the load generator, the client and the SMTP sink)',
    table(
      ['process', 'bare start', 'Leadflow enrolment', 'bare signal', 'Leadflow event'],
      (['worker', 'api', 'baselineWorker', 'temporal', 'postgres', 'bench', 'all'] as const).map((name) => [
        { worker: 'Leadflow worker', api: 'Leadflow API', baselineWorker: 'baseline worker', temporal: 'Temporal server', postgres: 'PostgreSQL', bench: 'bench', all: 'all processes' }[name],
        r.baseline.start.cpu?.[name]?.msPerOp ?? Number.NaN,
        r.leadflow.enrol.cpu?.[name]?.msPerOp ?? Number.NaN,
        r.baseline.signal.cpu?.[name]?.msPerOp ?? Number.NaN,
        r.leadflow.events.cpu?.[name]?.msPerOp ?? Number.NaN,
      ]),
    ),
    '',
    'Targets (reported, not asserted)',
    table(
      ['target', 'value', 'met'],
      r.targets.map((x) => [x.target, x.value, x.met ? 'yes' : 'NO']),
    ),
  ];
  for (const p of r.profile ?? []) {
    sections.push(
      '',
      `Worker CPU profile ${path.basename(p.file)}: ${p.sampledCpuSeconds} s busy of ${p.profiledSeconds} s`,
      table(
        ['area', 'self ms', '%'],
        p.byArea.slice(0, 10).map((a) => [a.area, a.selfMs, a.share]),
      ),
    );
  }
  return sections.join('\n');
}
