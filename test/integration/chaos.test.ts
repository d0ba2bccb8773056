import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, chaosFailures, duplicatesInKillWindow, runChaos } from '../../chaos/harness.js';

// The short fault-injection run CI does (`npm run chaos -- --quick`): a worker process killed
// with SIGKILL, SMTP refusing, dropping (socket destroyed) and hanging, Postgres and the Temporal dev server
// restarted, each at least once, while 60 leads run a seconds-long sequence.
describe('fault injection (quick run)', () => {
  it('loses no lead and sends every expected email exactly once through every kind of fault, but for a worker killed in the commit window', { timeout: 420_000 }, async () => {
    const lines: string[] = [];
    const report = await runChaos({
      leads: 60,
      faultSeconds: 25,
      faultEverySeconds: 3,
      escalateShare: 0.3,
      // A worker killed mid-send leaves that email to Temporal's retry once its heartbeat stops (10 s).
      settleSeconds: 180,
      seed: 20261125,
      log: (line) => lines.push(line),
    });
    const summary = JSON.stringify({ ...report, stuck: report.stuck.slice(0, 5) });
    for (const kind of FAULT_KINDS) expect(report.faults[kind], `${kind} never happened: ${summary}`).toBeGreaterThan(0);
    expect(report.leads).toBe(60);
    expect(report.emails.expected, summary).toBeGreaterThanOrEqual(180); // three per lead, plus one per escalation
    expect(report.droppedConnections, summary).toBeGreaterThan(0);
    // A worker killed between the relay's 250 and the `sent` row's commit sends that email again
    // (docs/reliability.md, section 2): counted and shown, not failed. Any other duplicate fails.
    const inKillWindow = duplicatesInKillWindow(report);
    if (inKillWindow.length) console.log(lines.filter((l) => l.startsWith('duplicate ')).join('\n'));
    expect(report.emails, lines.join('\n')).toEqual({
      expected: report.emails.expected,
      delivered: report.emails.expected,
      duplicated: inKillWindow.length,
      missing: 0,
      duplicatedKeys: Object.fromEntries(inKillWindow.map((key) => [key, 2])),
      unexpectedKeys: [],
    });
    expect(report.stuck, summary).toEqual([]);
    expect(report.failedWorkflows, summary).toBe(0);
    // The first failed workflow tasks' messages, if any, say what threw.
    expect(chaosFailures(report), lines.filter((l) => l.startsWith('failed workflow tasks')).join('\n')).toEqual([]);
  });
});
