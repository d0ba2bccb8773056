import { describe, expect, it } from 'vitest';
import path from 'node:path';
import {
  evaluateTargets,
  findKnee,
  keepStepping,
  matchedLatencies,
  parkedAt,
  perSecond,
  processedSignals,
  stageUpsertedAt,
  stepVerdict,
  subtractIdle,
  type HistoryMark,
  type StepMeasure,
} from '../../bench/analysis.js';
import { historyCost, type BurstResult } from '../../bench/baselines.js';
import { isHandoff, type StepResult } from '../../bench/capacity.js';
import { capacityPlan, CLI_OPTIONS, HELP, parseBenchOptions, planErrors } from '../../bench/options.js';
import { Progress } from '../../bench/progress.js';
import { chartOf, report } from '../../bench/report.js';
import { resultBase, targetsOf, type BenchResult } from '../../bench/run.js';
import { scaleCheckpoints } from '../../bench/scale.js';
import { bulkCsv, crossingsOf } from '../../bench/bulk.js';
import { WAIT_FIRST_SEQUENCES } from '../../bench/context.js';
import { parseLeadsCsv } from '../../src/server/csv-import.js';
import { summarize } from '../../bench/stats.js';
import { benchFailures } from '../../bench/verdict.js';

describe('bench: processed work from history timestamps', () => {
  const task = (at: number): HistoryMark => ({ kind: 'taskCompleted', at });
  const signal = (at: number, opId: string): HistoryMark => ({ kind: 'signaled', at, name: 'benchTick', opId });

  it('takes a workflow as parked at the last task completed before its first signal', () => {
    // B: start, task, activity, task (parked at 40); then a signal and its task.
    const marks: HistoryMark[] = [{ kind: 'started', at: 0 }, task(10), { kind: 'activityCompleted', at: 30 }, task(40), signal(100, 'x'), task(110)];
    expect(parkedAt(marks)).toBe(40);
    expect(parkedAt(marks, false)).toBe(110);
    expect(parkedAt([{ kind: 'started', at: 0 }])).toBeUndefined();
  });

  it('counts a signal processed when the next workflow task completed, not when it was recorded', () => {
    const marks: HistoryMark[] = [task(5), signal(100, 'a'), signal(101, 'b'), task(130), signal(200, 'c'), { kind: 'other', at: 201 }];
    expect(processedSignals(marks, 'benchTick')).toEqual([
      { opId: 'a', signaledAt: 100, processedAt: 130 },
      { opId: 'b', signaledAt: 101, processedAt: 130 },
    ]);
    // Signals of another name, and signals before `since`, are not counted.
    expect(processedSignals(marks, 'engagement')).toEqual([]);
    expect(processedSignals(marks, 'benchTick', 150)).toEqual([]);
  });

  it('counts a D signal processed once the task after its activity completed', () => {
    const marks: HistoryMark[] = [
      signal(100, 'a'),
      task(110), // schedules the activity
      signal(115, 'b'),
      { kind: 'activityCompleted', at: 140 },
      task(150), // a's activity is done; schedules b's
      { kind: 'activityCompleted', at: 170 },
    ];
    expect(processedSignals(marks, 'benchTick', 0, true)).toEqual([{ opId: 'a', signaledAt: 100, processedAt: 150 }]);
  });

  it('finds the LeadStage upsert to sales_review after a time', () => {
    const marks: HistoryMark[] = [{ kind: 'stageUpserted', at: 10, stage: 'nurturing' }, { kind: 'stageUpserted', at: 50, stage: 'sales_review' }];
    expect(stageUpsertedAt(marks, 'sales_review')).toBe(50);
    expect(stageUpsertedAt(marks, 'sales_review', 60)).toBeUndefined();
  });

  it('pairs send and processed times by operation id', () => {
    expect(matchedLatencies(new Map([['a', 100], ['b', 200], ['c', 300]]), new Map([['a', 130], ['c', 390], ['z', 1]]))).toEqual([30, 90]);
  });
});

describe('bench: a step of offered load', () => {
  // 10/s for 10 s: a send every 100 ms.
  const sends = Array.from({ length: 100 }, (_, i) => 1000 + i * 100);
  const step = (over: Partial<StepMeasure>): StepMeasure => ({ offeredPerSecond: 10, from: 1000, to: 11_000, sentAt: sends, processedAt: sends.map((t) => t + 40), kneeLatencyMs: sends.map(() => 40), ...over });

  it('passes a step that kept up: measured rates, backlog, p99', () => {
    const v = stepVerdict(step({}));
    expect(v).toMatchObject({ measuredOfferedPerSecond: 10, offeredSecondMin: 10, offeredSecondMax: 10, processedPerSecond: 10, backlogMid: 1, backlogEnd: 0, backlogGrowing: false, underOffered: false, ok: true });
    expect(v.kneeLatency.p99).toBe(40);
  });

  it('fails a step whose p99 reaches 250 ms', () => {
    const latencies = sends.map((_, i) => (i < 98 ? 40 : 300));
    expect(stepVerdict(step({ kneeLatencyMs: latencies })).ok).toBe(false);
    expect(stepVerdict(step({ kneeLatencyMs: latencies.map((l) => Math.min(l, 249)) })).ok).toBe(true);
  });

  it('fails a step whose backlog grows, even when the samples it has are fast', () => {
    // Processing at half the offered rate: a send every 100 ms, processed every 200 ms.
    const v = stepVerdict(step({ processedAt: sends.slice(0, 50).map((_, i) => 1040 + i * 200) }));
    expect(v.processedPerSecond).toBe(5);
    expect(v.backlogEnd).toBe(50);
    expect(v.backlogMid).toBe(26);
    expect(v.backlogGrowing).toBe(true);
    expect(v.ok).toBe(false);
  });

  it('does not take a step as measured when the generator fell short of its rate, or had no sample', () => {
    const sparse = sends.filter((_, i) => i % 2 === 0);
    const v = stepVerdict(step({ sentAt: sparse, processedAt: sparse.map((t) => t + 40) }));
    expect(v.measuredOfferedPerSecond).toBe(5);
    expect(v.underOffered).toBe(true);
    expect(v.ok).toBe(false);
    expect(stepVerdict(step({ kneeLatencyMs: [] })).ok).toBe(false);
    // Missing samples count as infinitely late: they fail p99 instead of vanishing.
    expect(stepVerdict(step({ kneeLatencyMs: [...sends.slice(2).map(() => 40), Infinity, Infinity] })).ok).toBe(false);
  });

  it('bins sends per second of the step', () => {
    expect(perSecond([1000, 1500, 2100, 4999, 5000], 1000, 4)).toEqual([2, 1, 0, 1]);
  });

  it('puts the knee at the highest rate before the first step that broke, and stops stepping there', () => {
    const s = (offeredPerSecond: number, ok: boolean) => ({ offeredPerSecond, ok });
    expect(findKnee([s(10, true), s(20, true), s(40, false), s(80, true)])).toBe(20);
    expect(findKnee([s(20, true), s(10, true)])).toBe(20);
    expect(findKnee([s(10, false)])).toBeUndefined();
    expect(findKnee([])).toBeUndefined();
    expect(keepStepping(undefined)).toBe(true);
    expect(keepStepping(s(10, true))).toBe(true);
    expect(keepStepping(s(10, false))).toBe(false);
  });

  it('spreads hand-offs over a step at the requested share', () => {
    const picks = Array.from({ length: 100 }, (_, i) => isHandoff(i, 0.2));
    expect(picks.filter(Boolean)).toHaveLength(20);
    expect(picks.slice(0, 10)).toEqual([false, false, false, false, true, false, false, false, false, true]);
    expect(Array.from({ length: 50 }, (_, i) => isHandoff(i, 0)).some(Boolean)).toBe(false);
  });
});

describe('bench: CPU with the idle share taken out', () => {
  it('subtracts each process\'s idle rate over the phase, never below zero, and adds up the system', () => {
    const cpu = subtractIdle({ worker: 1500, temporal: 2100, postgres: 30, bench: 400, smtpSink: undefined }, { worker: 50, temporal: 100, postgres: 20, bench: 10 }, 10_000, 100, ['worker', 'temporal', 'postgres', 'smtpSink']);
    expect(cpu.worker).toEqual({ ms: 1500, activeMs: 1000, msPerOp: 10 });
    expect(cpu.temporal).toEqual({ ms: 2100, activeMs: 1100, msPerOp: 11 });
    expect(cpu.postgres).toEqual({ ms: 30, activeMs: 0, msPerOp: 0 });
    expect(cpu.bench).toEqual({ ms: 400, activeMs: 300, msPerOp: 3 });
    expect(cpu.smtpSink).toBeUndefined();
    // "all" is the system under test: the bench's own client is not in it.
    expect(cpu.all).toEqual({ ms: 3630, activeMs: 2100, msPerOp: 21 });
  });
});

describe('bench: targets as ratios of one run', () => {
  const latency = (p50: number, p99: number) => ({ ...summarize([p50]), p50, p99 });
  const inputs = {
    eventsProcessedRate: 90,
    bareSignalProcessedRate: 100,
    enrolProcessedRate: 40,
    bareStartActivityProcessedRate: 50,
    targetRate: 50,
    handoffReviewMs: latency(30, 200),
    handoffSearchAttributeMs: latency(35, 240),
    targetStepSustained: true,
    workerRssGrowth1kTo10kPercent: 8,
    temporalBytesPerParkedLead: 16_000,
  };

  it('holds each figure against its limit', () => {
    expect(evaluateTargets(inputs).map((t) => [t.value, t.met])).toEqual([
      [0.9, true],
      [0.8, false],
      [35, true],
      [240, true],
      [8, true],
      [16_000, false],
    ]);
  });

  it('does not call the hand-off target met when the step did not sustain its rate, or had no sample', () => {
    expect(evaluateTargets({ ...inputs, targetStepSustained: false }).slice(2, 4).map((t) => t.met)).toEqual([false, false]);
    const none = { ...summarize([]) };
    expect(evaluateTargets({ ...inputs, handoffReviewMs: none, handoffSearchAttributeMs: none }).slice(2, 4).map((t) => t.met)).toEqual([false, false]);
  });

  it('reports every target as not measured when no phase ran', () => {
    const parsed = parseBenchOptions(['--quick'], '/repo');
    if (!('options' in parsed)) throw new Error('expected options');
    const targets = targetsOf({ options: parsed.options });
    expect(targets).toHaveLength(6);
    expect(targets.every((t) => !t.met && Number.isNaN(t.value))).toBe(true);
  });
});

describe('bench: options, checked up front', () => {
  const parse = (...argv: string[]) => parseBenchOptions(argv, '/repo');

  it('has full-run defaults: steps 10 to 160/s, 100,000 parked, 1,000 hand-off samples at the sustained 50/s', () => {
    const parsed = parse();
    if (!('options' in parsed)) throw new Error(JSON.stringify(parsed));
    const o = parsed.options;
    expect(o).toMatchObject({ quick: false, rates: [10, 20, 40, 80, 160], stepSeconds: 30, targetRate: 50, targetSeconds: 100, parked: 100_000, bulkRows: 100_000, campaignRate: 1000, phases: ['baselines', 'capacity', 'scale', 'bulk'], outDir: '/repo/bench/results' });
    expect(Math.floor(o.targetRate * o.targetSeconds * o.handoffShare)).toBeGreaterThanOrEqual(1000);
    expect(capacityPlan(o).handoffs).toBeGreaterThanOrEqual(1000);
  });

  it('has short quick defaults that write under bench/results/quick', () => {
    const parsed = parse('--quick');
    if (!('options' in parsed)) throw new Error(JSON.stringify(parsed));
    expect(parsed.options).toMatchObject({ rates: [10, 20], stepSeconds: 2, parked: 80, bulkRows: 40, outDir: '/repo/bench/results/quick' });
  });

  it('parses lists and sweep values, and sorts the rates', () => {
    const parsed = parse('--rates', '40,10', '--cache-sweep', '100,1000', '--phases', 'scale');
    if (!('options' in parsed)) throw new Error(JSON.stringify(parsed));
    expect(parsed.options).toMatchObject({ rates: [10, 40], cacheSweep: [100, 1000], phases: ['scale'] });
  });

  it('refuses bad values and plans that cannot finish, with a sentence each', () => {
    const error = (...argv: string[]) => {
      const parsed = parse(...argv);
      return 'error' in parsed ? parsed.error : '';
    };
    expect(error('--starts', '0')).toContain('--starts must be an integer ≥ 1');
    expect(error('--rates', '10,x')).toContain('--rates must be a comma-separated list');
    expect(error('--phases', 'nope')).toContain('unknown phase "nope"');
    expect(error('--handoff-share', '1')).toContain('--handoff-share');
    expect(error('--cache-sweep', '100', '--cluster')).toContain('--cluster');
    expect(error('--cache-sweep', '100', '--phases', 'capacity')).toContain('add scale to --phases');
    // The event leads would cross the threshold: refused before anything starts.
    expect(error('--event-leads', '50')).toMatch(/event leads would reach \d+ points.*raise --event-leads to at least \d+/);
    expect(error('--campaign-rate', '5000')).toContain('at most 1000 leads per second');
    expect(error('--bulk-rows', '0')).toContain('--bulk-rows must be an integer ≥ 1');
    expect(error('--bulk-jobs', 'campaign')).toContain('the campaign goes over imported leads: add import, or give the --data-dir');
    // Alone, the campaign goes over the leads an earlier run imported into the data folder.
    expect(error('--bulk-jobs', 'campaign', '--data-dir', '/tmp/kept')).toBe('');
    const kept = parse('--phases', 'bulk', '--bulk-jobs', 'campaign', '--data-dir', 'kept');
    expect('options' in kept && kept.options.dataDir).toBe(path.resolve('kept'));
    expect(error('--bulk-jobs', 'import,export')).toContain('unknown job "export"');
    // The import's sequence: one of the catalog's, and not the campaign's own (every lead would be skipped).
    const recycle = parse('--phases', 'bulk', '--bulk-sequence', 'recycle');
    expect('options' in recycle && recycle.options.bulkSequence).toBe('recycle');
    expect(error('--bulk-sequence', 'nope')).toContain('--bulk-sequence: no sequence "nope" (known: ');
    expect(error('--bulk-sequence', 'webinar-invite')).toContain('would skip every one already in it');
    expect(error('--bulk-sequence', 'webinar-invite', '--bulk-jobs', 'import')).toBe('');
    expect(error('--sqlite-pragmas', 'none')).toBe('');
    expect(error('--bogus')).toContain('bogus');
    expect(parse('--help')).toEqual({ help: true });
  });

  it('counts a lead of a sequence that opens with a wait as parked at its first write: recycle, not onboarding', () => {
    expect(WAIT_FIRST_SEQUENCES).toContain('recycle');
    expect(WAIT_FIRST_SEQUENCES).not.toContain('onboarding');
    expect(WAIT_FIRST_SEQUENCES).not.toContain('webinar-invite');
  });

  it('documents every option in --help', () => {
    for (const name of Object.keys(CLI_OPTIONS)) expect(HELP).toMatch(new RegExp(`^  (-h, )?--${name}\\b`, 'm'));
  });

  it('sizes the capacity plan: every step and the sustained step, hand-offs at the share', () => {
    expect(capacityPlan({ rates: [10, 20], stepSeconds: 3, targetRate: 50, targetSeconds: 4, handoffShare: 0.2 })).toEqual({ steps: [10, 20], maxEvents: 290, handoffs: 6 + 12 + 40 });
    const parsed = parse('--quick');
    if (!('options' in parsed)) throw new Error('expected options');
    expect(planErrors(parsed.options)).toEqual([]);
  });

  it('puts scale checkpoints at 1k, 10k and 100k on the way', () => {
    expect(scaleCheckpoints(300, 100_000)).toEqual([1_000, 10_000, 100_000]);
    expect(scaleCheckpoints(300, 20_000)).toEqual([1_000, 10_000, 20_000]);
    expect(scaleCheckpoints(120, 200)).toEqual([200]);
    expect(scaleCheckpoints(500, 200)).toEqual([]);
  });
});

describe('bench: progress', () => {
  const sink = () => {
    const written: string[] = [];
    return { written, out: { isTTY: false, write: (text: string) => void written.push(text) } };
  };

  it('prints plain lines at each quarter when not a terminal (CI logs)', () => {
    let now = 0;
    const { written, out } = sink();
    const progress = new Progress(out, () => now);
    progress.start('enrol', 100);
    for (let i = 1; i <= 100; i++) {
      now += 10;
      progress.update(i);
    }
    progress.finish('done');
    expect(written.every((line) => !line.includes('\r'))).toBe(true);
    expect(written.map((l) => l.replace(/\s+/g, ' ').trim())).toEqual(['enrol 0% 0/100', 'enrol 25% 25/100 100.0/s', 'enrol 50% 50/100 100.0/s', 'enrol 75% 75/100 100.0/s', 'enrol 100% 100/100 100.0/s', 'enrol: done (1.0 s)']);
  });

  it('prints a line at least every interval in a long quarter, so a stuck phase shows', () => {
    let now = 0;
    const { written, out } = sink();
    const progress = new Progress(out, () => now, 15_000);
    progress.start('parked', 1000);
    for (let i = 1; i <= 10; i++) {
      now += 10_000;
      progress.update(i);
    }
    // 100 s within the first quarter: the start line and one every 15 s (at 20, 40, 60, 80, 100 s).
    expect(written).toHaveLength(6);
  });
});

describe('bench: the exit code', () => {
  const burst = (over: Partial<BurstResult> = {}): BurstResult => ({
    what: 'A',
    count: 10,
    concurrency: 1,
    ackRate: 10,
    processedRate: 10,
    unprocessed: 0,
    requestLatencyMs: summarize([1]),
    processedLatencyMs: summarize([1]),
    errors: 0,
    cpu: {},
    ...over,
  });
  const step = (over: Partial<StepResult> = {}): StepResult =>
    ({
      offeredPerSecond: 10,
      sent: 30,
      errors: 0,
      kneeLatency: summarize([10]),
      ok: false,
      ...over,
    }) as StepResult;
  const baselines = (x: BurstResult) => ({ startInputBytes: 1, a: x, b: burst(), enrol: burst(), c: burst(), d: burst(), events: burst(), ratios: { enrolToB: 1, eventsToC: 1, toA: { b: 1, enrol: 1, c: 1, d: 1, events: 1 } } });
  const run = (over: Partial<Pick<BenchResult, 'baselines' | 'capacity' | 'scale' | 'error'>>) => over;

  it('passes a run whose steps broke: a knee is a result, not a failure', () => {
    expect(benchFailures(run({ baselines: baselines(burst()), capacity: { bare: [step()], leadflow: [step()], knee: {}, handoffSamples: 3 } }))).toEqual([]);
  });

  it('fails on failed requests, unprocessed work, a step without samples and a run that stopped', () => {
    expect(benchFailures(run({ baselines: baselines(burst({ errors: 2, firstError: 'HTTP 500' })) }))).toEqual(['A: 2 requests failed (first: HTTP 500)']);
    expect(benchFailures(run({ baselines: baselines(burst({ unprocessed: 3 })) }))).toEqual(['A: 3 operations never showed as processed in the histories']);
    expect(benchFailures(run({ capacity: { bare: [step({ kneeLatency: summarize([]) })], leadflow: [], knee: {}, handoffSamples: 0 } }))).toEqual(['capacity bare C at 10/s: no latency sample']);
    expect(benchFailures(run({ error: 'Error: boom\n  at x' }))).toEqual(['the run stopped: Error: boom']);
  });
});

describe('bench: the report of a partial run', () => {
  it('renders a run that stopped before any phase, naming the error and every target as not measured', () => {
    const parsed = parseBenchOptions(['--quick'], '/repo');
    if (!('options' in parsed)) throw new Error('expected options');
    const r: BenchResult = {
      version: 2,
      mode: 'quick',
      topology: { temporal: 'dev-server', workers: 1 },
      command: 'npm run bench -- --quick',
      startedAt: '2026-12-01T00:00:00.000Z',
      finishedAt: '2026-12-01T00:00:10.000Z',
      durationSeconds: 10,
      partial: true,
      error: 'Error: Temporal CLI not found\n  at startStack',
      options: parsed.options,
      settings: {},
      machine: { cpuModel: 'cpu', cores: 2, ramMiB: 1024, node: 'v20', platform: 'linux-x64', kernel: '6' },
      load: { start: [1], end: [1], oneMinute: { min: 1, mean: 1, max: 1, samples: 1 } },
      targets: targetsOf({ options: parsed.options }),
    };
    const text = report(r);
    expect(text).toContain('PARTIAL RESULT');
    expect(text).toContain('error: Error: Temporal CLI not found');
    expect(text.match(/not measured/g)).toHaveLength(6);
    expect(chartOf(r)).toContain('PARTIAL');
    expect(resultBase(r)).toBe('/repo/bench/results/quick/quick-dev-w1-2026-12-01T000000Z');
  });
});

describe('bench: cost per input from a lead\'s history', () => {
  it('counts the events before the first signal as the enrolment, and averages the rest per signal', () => {
    const marks: HistoryMark[] = [
      { kind: 'started', at: 0 },
      { kind: 'taskCompleted', at: 1 },
      { kind: 'activityCompleted', at: 2 },
      { kind: 'taskCompleted', at: 3 },
      { kind: 'signaled', at: 10, name: 'engagement' },
      { kind: 'other', at: 11 },
      { kind: 'taskCompleted', at: 12 },
      { kind: 'signaled', at: 20, name: 'engagement' },
      { kind: 'taskCompleted', at: 21 },
    ];
    expect(historyCost(marks)).toEqual({ enrolment: { historyEvents: 4, activities: 1 }, event: { historyEvents: 2.5, activities: 0 } });
  });
});

describe('bench: the bulk phase', () => {
  it('writes a CSV the import accepts row for row, the run id in an attribute the campaign segments on', async () => {
    const csv = bulkCsv('r1', 3);
    const rows = [];
    for await (const row of parseLeadsCsv((async function* () { yield Buffer.from(csv); })())) rows.push(row);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => ('lead' in r ? r.lead.id : r.errors))).toEqual(['r1-i-0', 'r1-i-1', 'r1-i-2']);
    expect(rows[0]).toMatchObject({ lead: { email: 'i0.r1@bench.example.com', attributes: { bulk_run: 'r1' } } });
  });

  it('reports both jobs with their rates and the API answer times', () => {
    const parsed = parseBenchOptions(['--quick'], '/repo');
    if (!('options' in parsed)) throw new Error('expected options');
    const job = (what: string, counts: Record<string, number>) => ({ what, rows: 40, seconds: 8, rate: 5, status: 'completed', counts, progress: [], api: { leadDetailMs: summarize([3, 4]), enrolMs: summarize([20, 30]), errors: 0 } });
    const r = {
      version: 2, mode: 'quick', topology: { temporal: 'dev-server', workers: 1 }, command: 'x', startedAt: '2026-12-01T00:00:00.000Z', finishedAt: '2026-12-01T00:00:10.000Z', durationSeconds: 10, partial: false,
      options: parsed.options, settings: {}, machine: { cpuModel: 'cpu', cores: 2, ramMiB: 1024, node: 'v20', platform: 'linux-x64', kernel: '6' },
      load: { start: [1], end: [1], oneMinute: { min: 1, mean: 1, max: 1, samples: 1 } }, targets: [],
      bulk: { import: { ...job('POST /v1/imports', { created: 40 }), parkedSeconds: 12.5 }, campaign: job('POST /v1/campaigns', { enrolled: 38, 'skipped sales_review': 2 }) },
    } as BenchResult;
    const text = report(r);
    expect(text).toContain('Bulk work');
    expect(text).toMatch(/POST \/v1\/imports.*created 40/);
    expect(text).toMatch(/POST \/v1\/campaigns.*enrolled 38, skipped sales_review 2/);
    expect(text).toContain('parked (first email sent) 12.5 s');
    const waitFirst = { ...r, bulk: { import: { ...r.bulk!.import!, parkedWhen: "in recycle's first wait" } } } as BenchResult;
    expect(report(waitFirst)).toContain("parked (in recycle's first wait) 12.5 s");
  });

  it('takes the first sample at or past 1k, 10k and 100k parked as the crossings, one sample once', () => {
    const at = (t: number, parked: number) => ({ t, parked, workerRssBytes: parked * 10 });
    const samples = [at(10, 400), at(20, 1_200), at(30, 9_000), at(40, 12_000), at(50, 20_000)];
    expect(crossingsOf(samples).map((s) => s.t)).toEqual([20, 40]);
    // One sample past two marks is reported once.
    expect(crossingsOf([at(10, 0), at(20, 15_000)]).map((s) => s.parked)).toEqual([15_000]);
    expect(crossingsOf([at(10, 999)])).toEqual([]);
  });

  it('reports the imported leads as parked leads: memory at the crossings, storage per lead, and feeds the storage target', () => {
    const parsed = parseBenchOptions(['--quick'], '/repo');
    if (!('options' in parsed)) throw new Error('expected options');
    const point = (leads: number, rss: number, db: number, pg: number) => ({ leads, runningLeadWorkflows: leads, workerRssBytes: rss * 1024 * 1024, apiRssBytes: 0, temporalDbBytes: db, postgresBytes: pg });
    const importScale = {
      before: point(0, 300, 1_000_000, 2_000_000),
      after: point(1_000, 400, 21_480_000, 6_096_000),
      crossings: [{ t: 42, parked: 1_000, workerRssBytes: 350 * 1024 * 1024, workerStickyCacheSize: 1000 }],
      timeline: [],
      temporalDbBytesPerLead: 20_480,
      postgresBytesPerLead: 4_096,
    };
    const r = {
      version: 2, mode: 'quick', topology: { temporal: 'dev-server', workers: 1 }, command: 'x', startedAt: '2026-12-01T00:00:00.000Z', finishedAt: '2026-12-01T00:00:10.000Z', durationSeconds: 10, partial: false,
      options: parsed.options, settings: {}, machine: { cpuModel: 'cpu', cores: 2, ramMiB: 1024, node: 'v20', platform: 'linux-x64', kernel: '6' },
      load: { start: [1], end: [1], oneMinute: { min: 1, mean: 1, max: 1, samples: 1 } }, targets: [],
      bulk: { importScale },
    } as unknown as BenchResult;
    const text = report(r);
    expect(text).toMatch(/42 s into the import\s+1,?000\s+350/);
    expect(text).toContain('per imported lead: Temporal 20 KB, Postgres 4 KB');
    const storage = targetsOf(r).find((t) => /Temporal storage/i.test(t.target));
    expect(storage?.value).toBe(20_480);
  });
});
