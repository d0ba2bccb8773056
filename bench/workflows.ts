import { condition, defineSignal, setHandler } from '@temporalio/workflow';

// The bare-engine baselines: as little workflow code as Temporal allows, on their own task
// queue, so the bench measures what the server and the SDK cost before Leadflow adds anything.

/** The signal of the signal-with-start baseline (carries an event id, like an engagement event). */
export const benchTickSignal = defineSignal<[string]>('benchTick');

/** Starts and completes at once: the ceiling on workflow starts. */
export async function benchTrivialWorkflow(): Promise<void> {
  return;
}

/** Counts signals and completes after the expected number: the ceiling on signal-with-start. */
export async function benchSignalledWorkflow(expected: number): Promise<number> {
  let received = 0;
  setHandler(benchTickSignal, () => {
    received += 1;
  });
  await condition(() => received >= expected);
  return received;
}
