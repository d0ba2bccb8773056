import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, KILL_WINDOW_MS, chaosFailures, countDeliveries, describeDuplicate, duplicateTrace, duplicatesInKillWindow, type ChaosReport, type FaultKind } from '../../chaos/harness.js';

// The chaos run's verdict: what it counts at the relay and when it fails. A run is only as good
// as this logic, so it is checked on made-up deliveries, an injected duplicate among them.
const expected = new Set(['a:chaos@v1:e1:s0', 'a:chaos@v1:e1:s2', 'a:sales-review:1']);
const allFaults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 1])) as Record<FaultKind, number>;
const report = (received: Array<[string, number]>, extra: Partial<ChaosReport> = {}): ChaosReport => ({
  leads: 1,
  faults: allFaults,
  emails: countDeliveries(expected, new Map(received)),
  stuck: [],
  failedWorkflows: 0,
  failedWorkflowTasks: 0,
  droppedConnections: 1,
  seconds: 1,
  ...extra,
});
const once: Array<[string, number]> = [...expected].map((k) => [k, 1]);

describe('chaos report', () => {
  it('passes a run where every expected send key arrived exactly once', () => {
    const clean = report(once);
    expect(clean.emails).toEqual({ expected: 3, delivered: 3, duplicated: 0, missing: 0, duplicatedKeys: {}, unexpectedKeys: [] });
    expect(chaosFailures(clean)).toEqual([]);
  });

  it('fails on an injected duplicate, naming the send key', () => {
    const twice = report(once.map(([k]) => [k, k === 'a:sales-review:1' ? 2 : 1]));
    expect(twice.emails).toMatchObject({ delivered: 3, duplicated: 1, missing: 0, duplicatedKeys: { 'a:sales-review:1': 2 } });
    expect(chaosFailures(twice)).toEqual(['1 send keys delivered more than once (1 extra deliveries), not explained by a worker killed in the commit window: a:sales-review:1 ×2']);
  });

  it('fails on an email under a send key nobody expected, even when every expected one arrived once', () => {
    const stray = report([...once, ['a:chaos@v1:e2:s0', 1]]);
    expect(stray.emails).toMatchObject({ delivered: 3, duplicated: 0, missing: 0, unexpectedKeys: ['a:chaos@v1:e2:s0'] });
    expect(chaosFailures(stray)).toEqual(['1 emails under send keys nobody expected: a:chaos@v1:e2:s0']);
  });

  it('counts a duplicate of an unexpected key as a duplicate too', () => {
    const both = report([...once, ['unknown', 2]]);
    expect(both.emails).toMatchObject({ duplicated: 1, duplicatedKeys: { unknown: 2 }, unexpectedKeys: ['unknown'] });
    expect(chaosFailures(both)).toHaveLength(2);
  });

  it('fails on a missing email, a stuck lead, a failed workflow, a fault that never came and a drop that dropped nothing', () => {
    const bad = report(once.slice(1), {
      stuck: ['a'],
      failedWorkflows: 2,
      failedWorkflowTasks: 1,
      faults: { ...allFaults, 'restart-temporal': 0 },
      droppedConnections: 0,
    });
    expect(bad.emails).toMatchObject({ delivered: 2, missing: 1 });
    expect(chaosFailures(bad)).toEqual([
      '1 of 3 expected emails never arrived',
      '1 leads not in their expected state: a',
      '2 workflow runs ended other than by continue-as-new',
      '1 lead workflow runs with failed workflow tasks (workflow code threw)',
      'faults that never happened: restart-temporal',
      'smtp-drop was injected but no SMTP connection was dropped',
    ]);
  });
});

describe('a duplicate\'s trace', () => {
  it('sets beside the deliveries the faults under way from 5 s before the first to the last, in run time', () => {
    const t0 = 1_000_000;
    const faults = [
      { kind: 'smtp-refuse' as const, from: t0 + 1_000, to: t0 + 2_000 }, // ended more than 5 s before the first delivery
      { kind: 'kill-worker' as const, from: t0 + 10_050, to: t0 + 11_500 }, // right after the first
      { kind: 'restart-postgres' as const, from: t0 + 30_000, to: t0 + 32_000 }, // after the second
    ];
    const trace = duplicateTrace('a:chaos@v1:e1:s2', [t0 + 10_000, t0 + 14_000], faults, t0);
    expect(trace).toEqual({ key: 'a:chaos@v1:e1:s2', deliveredAt: [10_000, 14_000], faultsBetween: [{ kind: 'kill-worker', from: 10_050, to: 11_500 }], killedAfterMs: 50 });
    expect(describeDuplicate(trace)).toBe('duplicate a:chaos@v1:e1:s2: delivered at 10.00 s, 14.00 s; faults around: kill-worker 10.05 s–11.50 s; in the kill window: worker killed 50 ms after the first delivery');
    expect(describeDuplicate(duplicateTrace('k', [t0 + 40_000, t0 + 41_000], faults, t0))).toContain('faults around: none');
  });
});

describe('duplicates in the kill window', () => {
  const t0 = 0;
  const kill = (from: number) => ({ kind: 'kill-worker' as const, from, to: from + 1500 });
  const dup = (deliveredAt: number[], faults: Array<{ kind: FaultKind; from: number; to: number }>) => duplicateTrace('a:chaos@v1:e1:s2', deliveredAt, faults, t0);
  const twice: Array<[string, number]> = [...once.filter(([k]) => k !== 'a:chaos@v1:e1:s2'), ['a:chaos@v1:e1:s2', 2]];

  it('does not fail a run on a key sent again after a worker was killed just after its first delivery', () => {
    const explained = report(twice, { duplicates: [dup([10_000, 30_000], [kill(10_000 + KILL_WINDOW_MS)])] });
    expect(duplicatesInKillWindow(explained)).toEqual(['a:chaos@v1:e1:s2']);
    expect(chaosFailures(explained)).toEqual([]);
  });

  it('fails it when the kill came before the delivery, too late after it, was not a kill, or the key came three times', () => {
    for (const duplicates of [
      [dup([10_000, 30_000], [kill(9_990)])],
      [dup([10_000, 30_000], [kill(10_000 + KILL_WINDOW_MS + 1)])],
      [dup([10_000, 30_000], [{ kind: 'restart-postgres', from: 10_010, to: 12_000 }])],
      [dup([10_000, 20_000, 30_000], [kill(10_010)])],
      // Within the window of the first delivery, but after the resend: it cannot have caused it.
      [dup([10_000, 10_100], [kill(10_200)])],
      undefined,
    ]) {
      const r = report(twice, duplicates ? { duplicates } : {});
      expect(duplicatesInKillWindow(r)).toEqual([]);
      expect(chaosFailures(r)).toEqual([expect.stringContaining('1 send keys delivered more than once (1 extra deliveries), not explained by a worker killed in the commit window: a:chaos@v1:e1:s2 ×2')]);
    }
  });

  it('fails it when the count says three deliveries though the trace shows two', () => {
    const thrice: Array<[string, number]> = [...once.filter(([k]) => k !== 'a:chaos@v1:e1:s2'), ['a:chaos@v1:e1:s2', 3]];
    const r = report(thrice, { duplicates: [dup([10_000, 30_000], [kill(10_010)])] });
    expect(chaosFailures(r)).toEqual([expect.stringContaining('a:chaos@v1:e1:s2 ×3')]);
  });
});
