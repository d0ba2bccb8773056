import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, chaosFailures, countDeliveries, type ChaosReport, type FaultKind } from '../../chaos/harness.js';

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
    expect(chaosFailures(twice)).toEqual(['1 send keys delivered more than once (1 extra deliveries): a:sales-review:1 ×2']);
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
