import type { BenchResult } from './run.js';

/**
 * Why a bench run is not a measurement of a working system, one sentence each; empty when it is
 * one. Targets, knees and broken steps are results, never failures; failed requests, work the
 * histories never show as processed in a burst, a step that got no latency sample at all, and a
 * phase that did not finish are failures, and make `npm run bench` exit 1 (after writing results).
 */
export function benchFailures(r: Pick<BenchResult, 'baselines' | 'capacity' | 'scale' | 'error'>): string[] {
  const failures: string[] = [];
  if (r.error) failures.push(`the run stopped: ${r.error.split('\n')[0]}`);
  const b = r.baselines;
  if (b) {
    for (const x of [b.a, b.b, b.enrol, b.c, b.d, b.events]) {
      if (x.errors > 0) failures.push(`${x.what}: ${x.errors} requests failed${x.firstError ? ` (first: ${x.firstError})` : ''}`);
      if (x.unprocessed > 0) failures.push(`${x.what}: ${x.unprocessed} operations never showed as processed in the histories`);
    }
  }
  const c = r.capacity;
  if (c) {
    const steps = [...c.bare.map((s) => ['bare C', s] as const), ...c.leadflow.map((s) => ['Leadflow', s] as const), ...(c.target ? [['Leadflow sustained', c.target] as const] : [])];
    for (const [name, s] of steps) {
      if (s.errors > 0) failures.push(`capacity ${name} at ${s.offeredPerSecond}/s: ${s.errors} of ${s.sent} requests failed${s.firstError ? ` (first: ${s.firstError})` : ''}`);
      if (s.kneeLatency.count === 0) failures.push(`capacity ${name} at ${s.offeredPerSecond}/s: no latency sample`);
    }
  }
  for (const g of r.scale?.segments ?? []) {
    if (g.errors > 0) failures.push(`enrolment ${g.from} → ${g.to}: ${g.errors} requests failed${g.firstError ? ` (first: ${g.firstError})` : ''}`);
  }
  return failures;
}
