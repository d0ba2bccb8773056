import { describe, expect, it } from 'vitest';
import { niceMax, renderChart } from '../../bench/chart.js';
import { areaOf, summarizeProfileData } from '../../bench/profile.js';
import { growthPercent, percentile, rate, ratio, summarize, table } from '../../bench/stats.js';

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

describe('bench chart', () => {
  it('rounds axis maxima up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(430)).toBe(500);
    expect(niceMax(501)).toBe(1000);
    expect(niceMax(0.7)).toBe(1);
    expect(niceMax(1.3)).toBe(2);
    expect(niceMax(0)).toBe(1);
  });

  it('draws latency and ratio bars, and the capacity curves of bare and Leadflow on one plot each', () => {
    const svg = renderChart({
      title: 'Leadflow <bench>',
      subtitle: 'test',
      latency: [
        { label: 'read model', p50: 40, p95: 90, p99: 120, max: 150 },
        { label: 'search attribute', p50: 60, p95: 300, p99: 450, max: 900 },
      ],
      latencyTargetMs: 250,
      ratios: [
        { label: 'enrol', value: 0.8 },
        { label: 'events', value: 0.5 },
      ],
      ratioTarget: 0.85,
      curves: [
        {
          label: 'bare C',
          points: [
            { offered: 10, processed: 10, p99Ms: 30 },
            { offered: 20, processed: 19.8, p99Ms: 40 },
            { offered: 40, processed: 25, p99Ms: 4000 },
          ],
        },
        {
          label: 'Leadflow',
          points: [
            { offered: 10, processed: 9.9, p99Ms: 80 },
            { offered: 20, processed: 12, p99Ms: Number.NaN },
          ],
        },
      ],
      curveP99LimitMs: 250,
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('Leadflow &lt;bench&gt;');
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(2 * 4 + 2);
    expect(svg).toContain('<title>search attribute p99: 450 ms</title>');
    expect(svg).toContain('target ≥ 0.85');
    // Two plots (processed, p99), a polyline per series on each, a point per step.
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg.match(/<circle /g)).toHaveLength(2 * 5);
    expect(svg).toContain('<title>bare C at 40/s: 25</title>');
    expect(svg).toContain('<title>Leadflow at 20/s: not measured</title>');
    expect(svg).toContain('knee: p99 &lt; 250 ms');
    expect(svg).not.toContain('NaN');
  });

  it('leaves the curves out when no capacity phase ran', () => {
    const svg = renderChart({ title: 't', subtitle: 's', latency: [], ratios: [] });
    expect(svg).not.toContain('<polyline');
    expect(svg).toContain('height="420"');
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

