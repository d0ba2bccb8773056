import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './baseline-activities.js';

// The bare-engine baselines of issue 14: as little workflow code as Temporal allows, on their own
// task queue, but started like a lead (the same encrypted input, the same start search
// attributes), so the bench measures what the server, the SDK and the codec cost before Leadflow
// adds anything. Their input is a lead's start input, carried and never read.

/** The signal of baselines C and D (carries an operation id, like an engagement event's eventId). */
export const benchTickSignal = defineSignal<[string]>('benchTick');

const { benchNoop } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** A: start → park (waits on a condition forever); C: each signal is one workflow task. */
export async function benchParkedWorkflow(_input: unknown): Promise<void> {
  let received = 0;
  setHandler(benchTickSignal, () => {
    received += 1;
  });
  await condition(() => received < 0);
}

/** B: start → one no-op activity → park; D: each signal runs one no-op activity. */
export async function benchActivityWorkflow(_input: unknown): Promise<void> {
  let pending = 0;
  setHandler(benchTickSignal, () => {
    pending += 1;
  });
  await benchNoop();
  for (;;) {
    await condition(() => pending > 0);
    pending -= 1;
    await benchNoop();
  }
}
