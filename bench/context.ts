import type { BenchOptions } from './options.js';
import type { Progress } from './progress.js';
import { SYSTEM_PROCESSES, sleep, type BenchStack } from './stack.js';
import type { IdleRates } from './cpu.js';
import type { LoadGenerator } from './load.js';
import { summarize, type LatencySummary } from './stats.js';
import { sequences } from '../src/sequences/catalog.js';

// What the phases share: the stack, the leads enrolled so far, and the waits every phase uses.

export interface BenchContext {
  options: BenchOptions;
  stack: BenchStack;
  progress: Progress;
  /** The open-loop load generator process. */
  generator: LoadGenerator;
  /** Leads enrolled so far by id prefix (`p`: enrolment and scale leads, `h`: hand-off leads). */
  leads: { p: number; h: number };
  /** Bare workflows started so far (A: parked, B: after one activity). */
  bare: { a: number; b: number };
  /** A lead's start input, carried by the baselines (same size, same codec). */
  startInput?: unknown;
}

export const leadId = (c: BenchContext, prefix: 'p' | 'h', i: number) => `${c.stack.runId}-${prefix}-${i}`;
export const leadWorkflow = (id: string) => `lead-${id}`;
export const bareId = (c: BenchContext, kind: 'a' | 'b', i: number) => `${c.stack.runId}-${kind}-${i}`;

/** POST /v1/leads for lead `i` of `prefix`. */
export function enrol(c: BenchContext, prefix: 'p' | 'h', i: number) {
  const id = leadId(c, prefix, i);
  return c.stack.expectStatus('POST', '/v1/leads', { id, email: `${prefix}${i}.${c.stack.runId}@bench.example.com`, firstName: 'Bench' }, [201]);
}

/** The catalog's sequences that open with a wait: a lead enrolled in one is parked once its first workflow task wrote the read model. */
export const WAIT_FIRST_SEQUENCES = Object.values(sequences).filter((s) => s.steps[0]?.kind === 'wait').map((s) => s.id);

/**
 * Parked, as the read model shows it: the first email sent (step 1 reached) or, in a sequence that
 * opens with a wait, the first write done (revision 1: the wait's timer is set in that task).
 */
const PARKED_COUNT = `SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND (sequence_step >= 1 OR (enrol_sequence = ANY($2::text[]) AND revision >= 1))`;

/** Leads of `prefix` (`i`: the bulk phase's imported leads, ids `<run>-i-<n>`) that are parked in their sequence's wait; `runId` another run's (the campaign over an earlier import). */
export async function parkedCount(c: BenchContext, prefix: 'p' | 'h' | 'i', runId: string = c.stack.runId): Promise<number> {
  const { rows } = await c.stack.pool.query<{ n: string }>(PARKED_COUNT, [`${runId}-${prefix}-%`, WAIT_FIRST_SEQUENCES]);
  return Number(rows[0]!.n);
}

/**
 * Polls `count()` until it reaches `target`. Gives up only when the count has not moved for
 * `stallMs`: a big backlog on a slow machine may take long, but moves.
 */
export async function waitUntil(count: () => Promise<number>, target: number, onCount: (n: number) => void, stallMs: number, everyMs = 500): Promise<void> {
  let last = Number.NEGATIVE_INFINITY;
  let movedAt = Date.now();
  for (;;) {
    const n = await count();
    onCount(Math.min(n, target));
    if (n >= target) return;
    if (n !== last) {
      last = n;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`gave up: stuck at ${n} of ${target} for ${stallMs / 1000} s`);
    }
    await sleep(everyMs);
  }
}

/**
 * Waits until the system's processes are back to their idle CPU (within 50 ms of CPU per
 * second, two half-second windows in a row), at most `maxMs`; returns whether it got quiet.
 * Nothing is polled but /proc, so the wait adds no load.
 */
export async function waitQuiet(c: BenchContext, idle: IdleRates, maxMs: number): Promise<boolean> {
  const idleSum = SYSTEM_PROCESSES.reduce((n, p) => n + (idle[p] ?? 0), 0);
  const deadline = Date.now() + maxMs;
  let quietWindows = 0;
  let before = await c.stack.cpu();
  let t = Date.now();
  while (Date.now() < deadline) {
    await sleep(500);
    const after = await c.stack.cpu();
    const now = Date.now();
    const used = SYSTEM_PROCESSES.reduce((n, p) => n + ((after[p] ?? 0) - (before[p] ?? 0)), 0);
    const perSecond = (used / (now - t)) * 1000;
    quietWindows = perSecond <= idleSum + 50 ? quietWindows + 1 : 0;
    if (quietWindows >= 2) return true;
    before = after;
    t = now;
  }
  return false;
}

/** Fetches histories, `concurrency` at a time. */
export async function historiesOf(c: BenchContext, workflowIds: string[], concurrency = 8) {
  const out = new Map<string, Awaited<ReturnType<BenchStack['history']>>>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, workflowIds.length) }, async () => {
      for (let i = next++; i < workflowIds.length; i = next++) {
        const id = workflowIds[i]!;
        out.set(id, await c.stack.history(id).catch(() => []));
      }
    }),
  );
  return out;
}

/** Latency summary where ops never processed count as infinitely late (so they move p99, not vanish). */
export function latencyWithMissing(values: number[], missing: number): LatencySummary & { missing: number } {
  return { ...summarize([...values, ...Array.from({ length: missing }, () => Number.POSITIVE_INFINITY)]), missing };
}
