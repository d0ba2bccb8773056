import path from 'node:path';
import { parseArgs } from 'node:util';
import { sequences } from '../src/sequences/catalog.js';

// The bench's command line: every option, its default (full run and --quick), and the checks
// that refuse a plan up front rather than 40 minutes in.

export const PHASES = ['baselines', 'capacity', 'scale', 'bulk'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  quick: boolean;
  phases: Phase[];
  /** Burst baselines: starts of A and B, and Leadflow enrolments. */
  starts: number;
  /** Burst baselines: signals of C and D, and Leadflow events. */
  events: number;
  /** Workflows / leads the signals and events go to (bursts and capacity curves). */
  eventLeads: number;
  /** Requests in flight in the burst phases and in the scale enrolment. */
  concurrency: number;
  /** Offered rates of the capacity curves, ascending. */
  rates: number[];
  stepSeconds: number;
  /** The sustained Leadflow step the hand-off target is read at. */
  targetRate: number;
  targetSeconds: number;
  /** Share of a Leadflow step's events that cross the threshold (hand-off samples). */
  handoffShare: number;
  /** Quiet time before memory is sampled, and before a step's histories are read. */
  settleMs: number;
  /** How long a step's answers and processing may take after its last send before it is judged. */
  drainMs: number;
  /** The quiet interval before each phase whose CPU counts as idle. */
  idleMs: number;
  /** Leads parked at the end of the scale phase. */
  parked: number;
  /** WORKER_MAX_CACHED_WORKFLOWS values to measure replay cost against memory at (empty: no sweep). */
  cacheSweep: number[];
  sweepRate: number;
  sweepSeconds: number;
  /** Rows of the bulk phase's CSV import; the campaign goes over the same leads. */
  bulkRows: number;
  /** Which bulk jobs run: the import, then the campaign over its leads (the campaign needs the import). */
  bulkJobs: Array<'import' | 'campaign'>;
  /** The sequence the bulk import enrols its new leads in (--bulk-sequence); the catalog's default when unset. */
  bulkSequence?: string;
  /** The bulk campaign's ratePerSecond. */
  campaignRate: number;
  /** Requests per second of each API probe while a bulk job runs (lead detail, enrolment). */
  probeRate: number;
  /** How often the bulk import's progress, parked count and worker memory are sampled. */
  bulkSampleMs: number;
  /** The dev server's SQLite pragmas; undefined: Leadflow's default (DEV_SERVER_SQLITE_PRAGMAS), [] SQLite's own. */
  sqlitePragmas?: string[];
  cpuProf: boolean;
  cluster: boolean;
  workers: number;
  outDir: string;
  keepData: boolean;
  /** Temporal's and PostgreSQL's data folder, kept; a later run with the same folder finds the leads imported there. */
  dataDir?: string;
}

export const HELP = `npm run bench -- [options]

Leadflow against the bare Temporal engine on the same server, with the same payload codec and
the same start input, in one run (docs/benchmarks.md). Starts its own Temporal dev server,
embedded PostgreSQL and SMTP sink (a process of its own) in a temporary folder, or uses
TEMPORAL_ADDRESS, DATABASE_URL, SMTP_URL; runs the Leadflow worker and API from their deployment
entry points, a baseline worker, and the load generator, each as its own process. Phases:

  baselines  bursts, closed loop (--concurrency in flight), processed rates from history
             timestamps: A start → park, B start → no-op activity → park, Leadflow enrolment
             (POST /v1/leads) vs B; C signal to a parked A, D signal → one activity, Leadflow
             events (POST /v1/leads/{id}/events) vs C; CPU per operation and process, idle
             CPU subtracted
  capacity   open-loop steps of offered rate for bare C and for Leadflow events, the load
             generator in its own process; per step the measured offered and processed rates,
             the backlog, the latency (bare: signal processed; Leadflow: hand-off to
             sales_review in the read model and the LeadStage search attribute, and to the SMTP
             sink); the knee; then a sustained step at --target-rate for the hand-off target
  scale      enrol up to --parked leads through the API; worker RSS at 1k / 10k / 100k,
             Temporal and Postgres bytes per lead; with --cache-sweep, replay cost against
             memory per WORKER_MAX_CACHED_WORKFLOWS value
  bulk       a CSV of --bulk-rows new leads through POST /v1/imports, then a campaign over
             exactly those leads (POST /v1/campaigns); time, rate and progress of each, and
             the API's answer times while they run (a lead's detail, a new lead's enrolment)

  --quick               the CI smoke run (about two minutes): --starts 20 --events 40
                        --event-leads 10 --concurrency 16 --rates 10,20 --step-seconds 2
                        --target-seconds 2 --parked 80 --bulk-rows 40 --settle-ms 1000
                        --drain-ms 5000 --idle-ms 500; results go to bench/results/quick/ (git-ignored)
  --phases LIST         which phases to run (default baselines,capacity,scale)
  --starts N            burst starts of A, B and Leadflow enrolments (default 1000)
  --events M            burst signals of C, D and Leadflow events (default 2000)
  --event-leads K       workflows / leads the signals and events go to (default 500); each
                        Leadflow event lead must stay under 40 points (1 point per event)
  --concurrency C       requests in flight in the bursts and the scale enrolment (default 32)
  --rates LIST          offered rates of the capacity steps, events/s (default 10,20,40,80,160);
                        stepping stops at the first step that breaks (p99 ≥ 250 ms or a growing
                        backlog)
  --step-seconds S      duration of each capacity step (default 30)
  --target-rate R       the sustained Leadflow step of the hand-off target (default 50)
  --target-seconds S    its duration (default 100: 1,000 hand-off samples at the default share)
  --handoff-share F     share of a Leadflow step's events that cross the threshold, sent to
                        leads pre-scored to 40 (default 0.2)
  --settle-ms MS        quiet before memory is sampled and before a step is read (default 5000)
  --drain-ms MS         how long a step may take to be processed after its last send (default 30000)
  --idle-ms MS          quiet interval before each phase, measured as idle CPU (default 5000)
  --parked P            leads parked at the end of the scale phase (default 100000)
  --cache-sweep LIST    WORKER_MAX_CACHED_WORKFLOWS values (e.g. 250,1000,5000): for each, restart
                        the worker, offer --sweep-rate events/s to parked leads round robin for
                        --sweep-seconds, report worker CPU per event, event latency, RSS
  --sweep-rate R        (default 20)
  --sweep-seconds S     (default 60)
  --bulk-rows N         rows of the bulk import, leads of the bulk campaign (default 100000)
  --bulk-sequence ID    the sequence the import enrols its leads in (default: the catalog's
                        default, onboarding, whose welcome email each lead waits for); one that
                        opens with a wait (recycle) parks a lead in its first workflow task, so a
                        campaign's population is built about twice as fast
  --campaign-rate R     the bulk campaign's ratePerSecond (default 1000, the most it accepts)
  --probe-rate R        API probes per second while a bulk job runs (default 2)
  --bulk-jobs LIST      import,campaign (default), import alone, or campaign alone over the
                        leads an earlier run imported into --data-dir
  --bulk-sample-ms MS   how often the import's parked leads and worker RSS are sampled (default
                        10000); the samples crossing 1k / 10k / 100k parked are reported
  --sqlite-pragmas LIST the dev server's SQLite pragmas, e.g. journal_mode=wal,synchronous=full;
                        none: SQLite's own (rollback journal); default Leadflow's (WAL, FULL)
  --cluster             run on the production topology (npm run cluster) instead of the dev server
  --workers W           Leadflow worker processes (default 1); memory and CPU are their sums
  --cpu-prof            run the worker under node --cpu-prof and summarise where its CPU goes
  --out DIR             where the JSON and SVG go (default bench/results, --quick: bench/results/quick)
  --keep-data           keep the temporary Temporal and Postgres data folder
  --data-dir DIR        Temporal's and Postgres's data in DIR (created when missing), kept after
                        the run; a run over a DIR that holds an earlier run's data starts from it
  -h, --help            this text

Targets are reported, never asserted. The results are written after every phase (a phase that
fails leaves the earlier phases' results, marked partial). The exit code is 1 when the bench
failed to run, a request failed, or a step was not measured (no samples); 0 otherwise. Ctrl-C
(or TERM) stops every process the run started, writes the results so far and exits 130.`;

/** Every option of the command line (each one documented in HELP: a test checks it). */
export const CLI_OPTIONS = {
  quick: { type: 'boolean', default: false },
  phases: { type: 'string' },
  starts: { type: 'string' },
  events: { type: 'string' },
  'event-leads': { type: 'string' },
  concurrency: { type: 'string' },
  rates: { type: 'string' },
  'step-seconds': { type: 'string' },
  'target-rate': { type: 'string' },
  'target-seconds': { type: 'string' },
  'handoff-share': { type: 'string' },
  'settle-ms': { type: 'string' },
  'drain-ms': { type: 'string' },
  'idle-ms': { type: 'string' },
  parked: { type: 'string' },
  'cache-sweep': { type: 'string' },
  'sweep-rate': { type: 'string' },
  'sweep-seconds': { type: 'string' },
  'bulk-rows': { type: 'string' },
  'campaign-rate': { type: 'string' },
  'probe-rate': { type: 'string' },
  'bulk-sample-ms': { type: 'string' },
  'bulk-jobs': { type: 'string' },
  'bulk-sequence': { type: 'string' },
  'sqlite-pragmas': { type: 'string' },
  'cpu-prof': { type: 'boolean', default: false },
  cluster: { type: 'boolean', default: false },
  workers: { type: 'string' },
  out: { type: 'string' },
  'keep-data': { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export type Parsed = { help: true } | { options: BenchOptions } | { error: string };

/** Parses and checks the command line; `repo` is where bench/results lives. */
export function parseBenchOptions(argv: string[], repo: string): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: CLI_OPTIONS,
    }));
  } catch (error) {
    return { error: (error as Error).message };
  }
  if (values.help) return { help: true };
  const errors: string[] = [];
  const q = values.quick;
  const int = (name: string, raw: string | undefined, full: number, quick: number, min = 1): number => {
    if (raw === undefined) return q ? quick : full;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) errors.push(`--${name} must be an integer ≥ ${min} (got "${raw}")`);
    return value;
  };
  const list = (name: string, raw: string | undefined, fallback: number[]): number[] => {
    if (raw === undefined) return fallback;
    const values = raw.split(',').map((s) => Number(s.trim()));
    if (!values.length || values.some((v) => !Number.isInteger(v) || v <= 0)) errors.push(`--${name} must be a comma-separated list of positive integers (got "${raw}")`);
    return values;
  };
  const phases = (values.phases ?? PHASES.join(',')).split(',').map((s) => s.trim());
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) errors.push(`--phases: unknown phase "${p}" (known: ${PHASES.join(', ')})`);
  const share = values['handoff-share'] === undefined ? 0.2 : Number(values['handoff-share']);
  if (!(share >= 0 && share < 1)) errors.push(`--handoff-share must be a number from 0 to below 1 (got "${values['handoff-share']}")`);
  const options: BenchOptions = {
    quick: q,
    phases: PHASES.filter((p) => phases.includes(p)),
    starts: int('starts', values.starts, 1000, 20),
    events: int('events', values.events, 2000, 40),
    eventLeads: int('event-leads', values['event-leads'], 500, 10),
    concurrency: int('concurrency', values.concurrency, 32, 16),
    rates: list('rates', values.rates, q ? [10, 20] : [10, 20, 40, 80, 160]).sort((a, b) => a - b),
    stepSeconds: int('step-seconds', values['step-seconds'], 30, 2),
    targetRate: int('target-rate', values['target-rate'], 50, 50),
    targetSeconds: int('target-seconds', values['target-seconds'], 100, 2),
    handoffShare: share,
    settleMs: int('settle-ms', values['settle-ms'], 5000, 1000, 0),
    drainMs: int('drain-ms', values['drain-ms'], 30_000, 5000, 0),
    idleMs: int('idle-ms', values['idle-ms'], 5000, 500, 100),
    parked: int('parked', values.parked, 100_000, 80),
    cacheSweep: list('cache-sweep', values['cache-sweep'], []),
    sweepRate: int('sweep-rate', values['sweep-rate'], 20, 20),
    sweepSeconds: int('sweep-seconds', values['sweep-seconds'], 60, 5),
    bulkRows: int('bulk-rows', values['bulk-rows'], 100_000, 40),
    campaignRate: int('campaign-rate', values['campaign-rate'], 1000, 1000),
    probeRate: int('probe-rate', values['probe-rate'], 2, 2),
    bulkJobs: (values['bulk-jobs'] ?? 'import,campaign').split(',').map((j) => j.trim()).filter(Boolean) as BenchOptions['bulkJobs'],
    bulkSampleMs: int('bulk-sample-ms', values['bulk-sample-ms'], 10_000, 1000, 100),
    ...(values['bulk-sequence'] ? { bulkSequence: values['bulk-sequence'].trim() } : {}),
    ...(values['sqlite-pragmas'] !== undefined ? { sqlitePragmas: values['sqlite-pragmas'].trim() === 'none' ? [] : values['sqlite-pragmas'].split(',').map((p) => p.trim()).filter(Boolean) } : {}),
    cpuProf: values['cpu-prof'],
    cluster: values.cluster,
    workers: int('workers', values.workers, 1, 1),
    outDir: path.resolve(values.out ?? path.join(repo, 'bench', 'results', ...(q ? ['quick'] : []))),
    keepData: values['keep-data'],
    ...(values['data-dir'] ? { dataDir: path.resolve(values['data-dir']) } : {}),
  };
  errors.push(...planErrors(options));
  return errors.length ? { error: errors.join('\n') } : { options };
}

/** The sequence the bulk campaign enrols the imported leads in. */
export const BULK_CAMPAIGN_SEQUENCE = 'webinar-invite';

/** Leadflow event leads earn 1 point per event: they must stay well under the 50-point threshold. */
export const MAX_POINTS_PER_EVENT_LEAD = 40;

/** What the capacity phase will send at most (every step run), and how many hand-off leads it needs. */
export function capacityPlan(o: Pick<BenchOptions, 'rates' | 'stepSeconds' | 'targetRate' | 'targetSeconds' | 'handoffShare'>): { steps: number[]; maxEvents: number; handoffs: number } {
  const steps = o.rates;
  const perStep = (rate: number, seconds: number) => rate * seconds;
  const all = [...steps.map((r) => perStep(r, o.stepSeconds)), perStep(o.targetRate, o.targetSeconds)];
  const handoffs = all.reduce((n, ops) => n + Math.floor(ops * o.handoffShare), 0);
  return { steps, maxEvents: all.reduce((a, b) => a + b, 0), handoffs };
}

/** Reasons a plan cannot run to the end, one sentence each. */
export function planErrors(o: BenchOptions): string[] {
  const errors: string[] = [];
  if (o.phases.length === 0) errors.push('--phases: nothing to run');
  for (const j of o.bulkJobs) if (j !== 'import' && j !== 'campaign') errors.push(`--bulk-jobs: unknown job "${j}" (known: import, campaign)`);
  if (o.bulkSequence !== undefined && !Object.hasOwn(sequences, o.bulkSequence)) errors.push(`--bulk-sequence: no sequence "${o.bulkSequence}" (known: ${Object.keys(sequences).join(', ')})`);
  if (o.bulkSequence === BULK_CAMPAIGN_SEQUENCE && o.bulkJobs.includes('campaign')) errors.push(`--bulk-sequence: the campaign enrols the imported leads in ${BULK_CAMPAIGN_SEQUENCE}, which would skip every one already in it: choose another`);
  if (o.bulkJobs.includes('campaign') && !o.bulkJobs.includes('import') && !o.dataDir) errors.push('--bulk-jobs: the campaign goes over imported leads: add import, or give the --data-dir of a run that imported them');
  if (o.eventLeads > o.starts && o.phases.includes('baselines')) errors.push('--event-leads cannot exceed --starts (the events go to enrolled leads)');
  const burstPoints = Math.ceil(o.events / o.eventLeads);
  const { maxEvents, handoffs } = capacityPlan(o);
  const capacityPoints = o.phases.includes('capacity') ? Math.ceil((maxEvents - handoffs) / o.eventLeads) : 0;
  const points = (o.phases.includes('baselines') ? burstPoints : 0) + capacityPoints;
  if (points >= MAX_POINTS_PER_EVENT_LEAD) {
    errors.push(
      `the event leads would reach ${points} points (bursts ${burstPoints}, capacity up to ${capacityPoints}, 1 point per event): ` +
        `raise --event-leads to at least ${Math.ceil(((o.phases.includes('baselines') ? o.events : 0) + (maxEvents - handoffs)) / (MAX_POINTS_PER_EVENT_LEAD - 1))}`,
    );
  }
  if (o.cacheSweep.length && o.cluster) errors.push('--cache-sweep restarts the worker, which --cluster does not allow');
  if (o.cacheSweep.length && !o.phases.includes('scale')) errors.push('--cache-sweep runs in the scale phase: add scale to --phases');
  if (o.campaignRate > 1000) errors.push('--campaign-rate: a campaign accepts at most 1000 leads per second');
  return errors;
}
