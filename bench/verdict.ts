import type { BenchResult } from './run.js';

/**
 * Why a bench run is not a measurement of a working system, one sentence each; empty when it is
 * one. Targets (latency, memory) are reported, never asserted; failed hand-offs and failed
 * requests are not targets but failures, and make `npm run bench` exit 1 (after writing results).
 */
export function benchFailures(r: Pick<BenchResult, 'baseline' | 'leadflow' | 'handoff'>): string[] {
  const failures: string[] = [];
  const phases = [
    ['bare engine starts', r.baseline.start],
    ['bare engine signals', r.baseline.signal],
    ['enrolments', r.leadflow.enrol],
    ['engagement events', r.leadflow.events],
    ['enrolments of the parked leads', r.leadflow.enrolToParked],
  ] as const;
  for (const [name, phase] of phases) {
    if (phase.errors > 0) failures.push(`${name}: ${phase.errors} requests failed${phase.firstError ? ` (first: ${phase.firstError})` : ''}`);
  }
  for (const [name, h] of [
    ['idle', r.handoff.idle],
    ['under load', r.handoff.load],
  ] as const) {
    if (h.failures > 0) failures.push(`hand-offs ${name}: ${h.failures} of ${h.count} failed${h.firstFailure ? ` (first: ${h.firstFailure})` : ''}`);
    if (h.skipped > 0) failures.push(`hand-offs ${name}: ${h.skipped} of ${h.count} not attempted after 3 timeouts in a row`);
    if (h.load && h.load.errors > 0) failures.push(`background load ${name}: ${h.load.errors} of ${h.load.sent} event requests failed${h.load.firstError ? ` (first: ${h.load.firstError})` : ''}`);
  }
  return failures;
}
