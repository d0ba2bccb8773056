import { describe, expect, it } from 'vitest';
import { niceMax, renderChart } from '../../bench/chart.js';
import { areaOf, summarizeProfileData } from '../../bench/profile.js';
import { Progress } from '../../bench/progress.js';
import type { BenchResult, HandoffResult, ThroughputResult } from '../../bench/run.js';
import { growthPercent, percentile, rate, ratio, summarize, table } from '../../bench/stats.js';
import { benchFailures } from '../../bench/verdict.js';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarises unsorted latencies', () => {
    const summary = summarize([30, 10, 20, 1000, 40]);
    expect(summary).toEqual({ count: 5, p50: 30, p95: 1000, p99: 1000, max: 1000, mean: 220 });
    expect(summarize([]).count).toBe(0);
    expect(summarize([]).p99).toBeNaN();
  });

  it('computes rates, ratios and growth', () => {
    expect(rate(500, 2000)).toBe(250);
    expect(rate(1, 0)).toBeNaN();
    expect(ratio(70, 100)).toBe(0.7);
    expect(ratio(1, Number.NaN)).toBeNaN();
    expect(growthPercent(100, 112.5)).toBe(12.5);
  });

  it('aligns a table, numbers to the right', () => {
    const text = table(['what', 'rate'], [['starts', 1234.5], ['events', 7]]);
    expect(text.split('\n')).toEqual(['what    rate', '------  -----', 'starts  1,235', 'events      7']);
  });
});

describe('bench progress', () => {
  const sink = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, out: { isTTY, write: (text: string) => void written.push(text) } };
  };

  it('prints plain lines at each quarter when not a terminal (CI logs)', () => {
    let now = 0;
    const { written, out } = sink(false);
    const progress = new Progress(out, () => now);
    progress.start('enrol', 100);
    for (let i = 1; i <= 100; i++) {
      now += 10;
      progress.update(i);
    }
    progress.finish('done');
    expect(written.every((line) => !line.includes('\r'))).toBe(true);
    expect(written.map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      'enrol [------------------------] 0% 0/100',
      'enrol [######------------------] 25% 25/100 100.0/s',
      'enrol [############------------] 50% 50/100 100.0/s',
      'enrol [##################------] 75% 75/100 100.0/s',
      'enrol [########################] 100% 100/100 100.0/s',
      'enrol: done (1.0 s)',
    ]);
  });

  it('redraws one line on a terminal, at most ten times a second', () => {
    let now = 0;
    const { written, out } = sink(true);
    const progress = new Progress(out, () => now);
    progress.start('events', 1000);
    for (let i = 1; i <= 1000; i++) {
      now += 1; // one second in all
      progress.update(i);
    }
    const redraws = written.filter((w) => w.startsWith('\r'));
    expect(redraws.length).toBeGreaterThan(5);
    expect(redraws.length).toBeLessThanOrEqual(13);
    expect(redraws.at(-1)).toContain('100% 1000/1000  1000.0/s');
  });
});

describe('bench chart', () => {
  it('rounds axis maxima up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(430)).toBe(500);
    expect(niceMax(501)).toBe(1000);
    expect(niceMax(0.7)).toBe(1);
    expect(niceMax(1.3)).toBe(2);
    expect(niceMax(0)).toBe(1);
  });

  it('draws a bar per series and percentile, a bar per ratio, and both targets', () => {
    const svg = renderChart({
      title: 'Leadflow <bench>',
      subtitle: 'test',
      latency: [
        { label: 'idle', p50: 40, p95: 90, p99: 120, max: 150 },
        { label: 'load', p50: 60, p95: 300, p99: 450, max: 900 },
      ],
      latencyTargetMs: 500,
      ratios: [
        { label: 'enrol', value: 0.8 },
        { label: 'events', value: 0.5 },
      ],
      ratioTarget: 0.7,
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('Leadflow &lt;bench&gt;');
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(2 * 4 + 2);
    expect(svg).toContain('<title>load p99: 450 ms</title>');
    expect(svg).toContain('<title>events: 0.5</title>');
    expect(svg).toContain('target p99 &lt; 500 ms');
    expect(svg).toContain('target ≥ 0.7');
    expect(svg).not.toContain('NaN');
  });
});

describe('bench CPU profile summary', () => {
  it('groups self time by package and project folder, idle excluded', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
    const summary = summarizeProfileData(
      {
        startTime: 0,
        endTime: 1_000_000, // 1 s in microseconds
        nodes: [
          { id: 1, callFrame: frame('(idle)', ''), hitCount: 500 },
          { id: 2, callFrame: frame('query', 'file:///app/node_modules/pg/lib/client.js'), hitCount: 300 },
          { id: 3, callFrame: frame('sendOnce', 'file:///app/activities/index.ts'), hitCount: 150 },
          { id: 4, callFrame: frame('(garbage collector)', ''), hitCount: 50 },
        ],
      },
      'CPU.1.cpuprofile',
    );
    expect(summary.profiledSeconds).toBe(1);
    expect(summary.sampledCpuSeconds).toBe(0.5);
    expect(summary.byArea).toEqual([
      { area: 'pg', selfMs: 300, share: 60 },
      { area: 'activities/ (project)', selfMs: 150, share: 30 },
      { area: 'garbage collector', selfMs: 50, share: 10 },
    ]);
    expect(summary.topFunctions[0]).toMatchObject({ function: 'query client.js:1', area: 'pg' });
  });

  it('names scoped packages and node internals', () => {
    expect(areaOf('file:///x/node_modules/@temporalio/worker/lib/worker.js')).toBe('@temporalio/worker');
    expect(areaOf('node:internal/streams/readable')).toBe('node internals');
  });
});

describe('bench verdict (the exit code)', () => {
  const phase = (errors = 0): ThroughputResult => ({ count: 10, concurrency: 1, ackSeconds: 1, ackRate: 10, processedSeconds: 1, processedRate: 10, requestLatencyMs: summarize([1]), errors });
  const handoff = (failures = 0, skipped = 0, loadErrors?: number): HandoffResult => ({
    count: 10,
    failures,
    skipped,
    ackMs: summarize([1]),
    reviewMs: summarize([1]),
    smtpMs: summarize([1]),
    ...(loadErrors !== undefined ? { load: { targetPerSecond: 50, achievedPerSecond: 50, sent: 100, errors: loadErrors, ackMs: summarize([1]) } } : {}),
  });
  const run = (over: { events?: number; idle?: HandoffResult; load?: HandoffResult } = {}): Pick<BenchResult, 'baseline' | 'leadflow' | 'handoff'> => ({
    baseline: { start: phase(), signal: phase() },
    leadflow: { enrol: phase(), events: phase(over.events), enrolToParked: phase() },
    handoff: { idle: over.idle ?? handoff(), load: over.load ?? handoff(0, 0, 0) },
  });

  it('passes a run without failed hand-offs or requests', () => {
    expect(benchFailures(run())).toEqual([]);
  });

  it('fails when every hand-off timed out, when some were skipped, and on request errors', () => {
    expect(benchFailures(run({ idle: handoff(3, 7) }))).toEqual(['hand-offs idle: 3 of 10 failed', 'hand-offs idle: 7 of 10 not attempted after 3 timeouts in a row']);
    expect(benchFailures(run({ events: 2 }))).toEqual(['engagement events: 2 requests failed']);
    expect(benchFailures(run({ load: handoff(0, 0, 5) }))).toEqual(['background load under load: 5 of 100 event requests failed']);
    // The first error is named, so a failed CI run says what the request met.
    const withError = handoff(0, 0, 1);
    withError.load!.firstError = 'POST /v1/leads/b-3/events answered 500';
    expect(benchFailures(run({ load: withError }))).toEqual(['background load under load: 1 of 100 event requests failed (first: POST /v1/leads/b-3/events answered 500)']);
  });
});
