import fs from 'node:fs/promises';
import path from 'node:path';
import { SETTINGS } from '../src/config.js';
import { evaluateTargets, type Target } from './analysis.js';
import { runBaselines, type BaselinesResult } from './baselines.js';
import { runCapacity, type CapacityResult } from './capacity.js';
import type { BenchContext } from './context.js';
import { startLoadGenerator, type LoadGenerator } from './load.js';
import type { BenchOptions } from './options.js';
import { describeMachine, watchLoad, type MachineDescription } from './procs.js';
import { summarizeProfiles, type ProfileSummary } from './profile.js';
import type { Progress } from './progress.js';
import { runScale, type ScaleResult } from './scale.js';
import { runBulk, type BulkResult } from './bulk.js';
import { startStack } from './stack.js';

// One bench run: the stack once, then the phases in order (baselines, capacity, scale, bulk), the
// result written after every phase and step, so a failure late in a long run keeps what the
// earlier phases measured (marked partial, with the error).

export interface BenchResult {
  version: 2;
  mode: 'quick' | 'full';
  topology: { temporal: 'dev-server' | 'cluster'; workers: number };
  command: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  /** True until every phase asked for has finished; `error` says why one did not. */
  partial: boolean;
  error?: string;
  options: BenchOptions;
  /** Leadflow settings set in the environment (they reach the worker and the API); secrets shown as "(set)". */
  settings: Record<string, string>;
  machine: MachineDescription;
  load: ReturnType<ReturnType<typeof watchLoad>['stop']>;
  setup?: { temporal: string; postgres: string; smtp: string; workerConcurrencyDefaults: string };
  baselines?: BaselinesResult;
  capacity?: CapacityResult;
  scale?: ScaleResult;
  bulk?: BulkResult;
  targets: Target[];
  profile?: ProfileSummary[];
}

/** The targets from whatever phases ran (a figure a phase did not measure is NaN, and not met). */
export function targetsOf(r: Pick<BenchResult, 'baselines' | 'capacity' | 'scale' | 'options'> & Partial<Pick<BenchResult, 'bulk'>>): Target[] {
  const none = { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const t = r.capacity?.target;
  return evaluateTargets({
    eventsProcessedRate: r.baselines?.events.processedRate ?? Number.NaN,
    bareSignalProcessedRate: r.baselines?.c.processedRate ?? Number.NaN,
    enrolProcessedRate: r.baselines?.enrol.processedRate ?? Number.NaN,
    bareStartActivityProcessedRate: r.baselines?.b.processedRate ?? Number.NaN,
    targetRate: r.options.targetRate,
    handoffReviewMs: t?.handoff?.readModelMs ?? none,
    handoffSearchAttributeMs: t?.handoff?.searchAttributeMs ?? none,
    targetStepSustained: !!t && !t.underOffered && !t.backlogGrowing,
    workerRssGrowth1kTo10kPercent: r.scale?.workerRssGrowth1kTo10kPercent ?? Number.NaN,
    // The scale phase's figure; without it, the bulk import's (its leads parked the same way, reached in bulk).
    temporalBytesPerParkedLead: r.scale?.temporalDbBytesPerLead ?? r.bulk?.importScale?.temporalDbBytesPerLead ?? Number.NaN,
  });
}

/** Runs the phases asked for; `write` is called with the result so far after every step. */
export async function runBench(options: BenchOptions, progress: Progress, write: (r: BenchResult) => Promise<void>): Promise<BenchResult> {
  const startedAt = new Date();
  const loadWatch = watchLoad();
  const result: BenchResult = {
    version: 2,
    mode: options.quick ? 'quick' : 'full',
    topology: { temporal: options.cluster ? 'cluster' : 'dev-server', workers: options.workers },
    command: `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    partial: true,
    options,
    settings: Object.fromEntries(
      Object.entries(SETTINGS)
        .filter(([name]) => process.env[name])
        .map(([name, setting]) => [name, 'secret' in setting && setting.secret ? '(set)' : process.env[name]!]),
    ),
    machine: describeMachine(),
    load: { start: [], end: [], oneMinute: { min: 0, mean: 0, max: 0, samples: 0 } },
    targets: [],
  };
  const save = async () => {
    const now = new Date();
    result.finishedAt = now.toISOString();
    result.durationSeconds = Math.round((now.getTime() - startedAt.getTime()) / 100) / 10;
    result.load = loadWatch.peek();
    result.targets = targetsOf(result);
    await write(result);
  };
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let generator: LoadGenerator | undefined;
  // Ctrl-C or a TERM: stop the processes this run started (a kept data folder stays, ready for a
  // later run over it) and write what was measured; a second signal exits at once.
  const interrupted = (signal: NodeJS.Signals) => {
    process.once(signal, () => process.exit(130));
    progress.log(`bench: ${signal}: stopping the processes, writing the results so far`);
    result.error = `interrupted by ${signal}`;
    void (async () => {
      await generator?.stop().catch(() => undefined);
      await stack?.stop().catch(() => undefined);
      result.load = loadWatch.stop();
      await save().catch(() => undefined);
      process.exit(130);
    })();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, interrupted);
  try {
    stack = await startStack({ cluster: options.cluster, workers: options.workers, cpuProf: options.cpuProf, keepData: options.keepData, ...(options.dataDir ? { dataDir: options.dataDir } : {}), outDir: options.outDir, ...(options.sqlitePragmas ? { sqlitePragmas: options.sqlitePragmas } : {}) }, progress);
    result.setup = stack.setup;
    generator = await startLoadGenerator(path.join(stack.dataDir, 'load'));
    const context: BenchContext = { options, stack, progress, generator, leads: { p: 0, h: 0 }, bare: { a: 0, b: 0 } };
    if (options.phases.includes('baselines')) {
      result.baselines = await runBaselines(context);
      await save();
    }
    if (options.phases.includes('capacity')) {
      result.capacity = await runCapacity(context, async (partial) => {
        result.capacity = partial;
        await save();
      });
      await save();
    }
    if (options.phases.includes('scale')) {
      result.scale = await runScale(context, async (partial) => {
        result.scale = partial;
        await save();
      });
    }
    if (options.phases.includes('bulk')) {
      result.bulk = await runBulk(context, async (partial) => {
        result.bulk = partial;
        await save();
      });
    }
    // Stop the processes now: the worker writes its CPU profile on exit.
    await generator.stop();
    await stack.stop();
    if (options.cpuProf) result.profile = await summarizeProfiles(stack.profileDir);
    result.partial = false;
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    progress.log(`bench failed: ${result.error}`);
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeListener(signal, interrupted);
    await generator?.stop();
    await stack?.stop();
    result.load = loadWatch.stop();
    await save();
  }
  return result;
}

/** Where a run's files go: `<out>/<mode>-<dev|cluster>-w<workers>-<start>.{json,svg}`. */
export function resultBase(r: Pick<BenchResult, 'mode' | 'startedAt' | 'topology' | 'options'>): string {
  const stamp = r.startedAt.replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  return path.join(r.options.outDir, `${r.mode}-${r.topology.temporal === 'cluster' ? 'cluster' : 'dev'}-w${r.topology.workers}-${stamp}`);
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  // NaN and Infinity become null in JSON: written as strings instead, so a missing figure stays visible.
  await fs.writeFile(file, `${JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
}
