import { cpuRate, subtractIdle, type CpuUse } from './analysis.js';
import { SYSTEM_PROCESSES, sleep, type BenchStack, type ProcessName } from './stack.js';

// CPU per operation and process (issue 14, item 4): each process's CPU over a phase, minus what
// it used at idle over as long (measured over a quiet interval just before the phase).

export type IdleRates = Partial<Record<ProcessName, number>>;

/** CPU ms per second of each process over `ms` of quiet. */
export async function measureIdle(stack: BenchStack, ms: number): Promise<IdleRates> {
  const before = await stack.cpu();
  const t0 = Date.now();
  await sleep(ms);
  const after = await stack.cpu();
  const elapsed = Date.now() - t0;
  const idle: IdleRates = {};
  for (const name of Object.keys(after) as ProcessName[]) {
    const a = after[name];
    const b = before[name];
    if (a !== undefined && b !== undefined) idle[name] = cpuRate(b, a, elapsed);
  }
  return idle;
}

/** Starts a CPU measurement; `end(ops)` gives CPU per process and operation, idle taken out. */
export async function cpuMeter(stack: BenchStack, idle: IdleRates): Promise<{ end(ops: number): Promise<Record<string, CpuUse>> }> {
  const before = await stack.cpu();
  const t0 = Date.now();
  return {
    async end(ops) {
      const after = await stack.cpu();
      const delta: Record<string, number | undefined> = {};
      for (const name of Object.keys(after) as ProcessName[]) {
        const a = after[name];
        const b = before[name];
        delta[name] = a !== undefined && b !== undefined ? a - b : undefined;
      }
      return subtractIdle(delta, idle, Date.now() - t0, ops, SYSTEM_PROCESSES);
    },
  };
}
