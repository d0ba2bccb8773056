import type { CpuUse } from './analysis.js';
import { WAIT_FIRST_SEQUENCES, latencyWithMissing, parkedCount, waitUntil, type BenchContext } from './context.js';
import { BULK_CAMPAIGN_SEQUENCE } from './options.js';
import { cpuMeter, measureIdle } from './cpu.js';
import { checkpoint, type ParkedCheckpoint } from './scale.js';
import { KEYS, sleep } from './stack.js';
import { rate, summarize, type LatencySummary } from './stats.js';

// Phase 4: bulk work (issue 16). A CSV of --bulk-rows new leads through POST /v1/imports, then a
// campaign over exactly those leads (segment on the import's own attribute) into another
// sequence. Each job is timed from the request until its status answer says it finished, its
// progress sampled from that answer; meanwhile a probe measures the API's answer times for the
// routes people use while a job runs (a lead's detail, and a new lead's enrolment).

export interface BulkProgressSample {
  /** Seconds since the job was asked for. */
  t: number;
  done: number;
}

export interface BulkJob {
  what: string;
  rows: number;
  /** From the request until the status answer said completed. */
  seconds: number;
  /** Rows (import) or leads (campaign) done per second over `seconds`. */
  rate: number;
  status: string;
  counts: Record<string, number>;
  progress: BulkProgressSample[];
  /**
   * The API's answer times while the job ran (probes at --probe-rate each), and how long each lead
   * the probe enrolled waited for its welcome email (from its row's creation to the send; one not
   * sent when the job ended counts as missing, and as infinitely late in the percentiles).
   */
  api: { leadDetailMs: LatencySummary; enrolMs: LatencySummary; errors: number; welcomeMs?: LatencySummary & { missing: number } };
  /** The import only: until every imported lead's read model showed it parked (`parkedWhen`). */
  parkedSeconds?: number;
  /** What parked meant: the first email sent, or the first write of a sequence that opens with a wait. */
  parkedWhen?: string;
  /** CPU per process over the job (the import: until every lead parked), per row or lead, idle taken out. */
  cpu?: Record<string, CpuUse>;
}

/** A sample of the import on its way (every --bulk-sample-ms): leads parked so far and the worker's memory. */
export interface ImportSample {
  /** Seconds since the import was posted. */
  t: number;
  parked: number;
  workerRssBytes: number;
  workerStickyCacheSize?: number;
}

/** The import's leads as parked leads (issue 14's scale figures, reached through the API in bulk). */
export interface ImportScale {
  /** Settled, before the import and after its last lead parked. */
  before: ParkedCheckpoint;
  after: ParkedCheckpoint;
  /** The first sample at or past 1k, 10k and 100k parked (taken while the import runs, not settled). */
  crossings: ImportSample[];
  timeline: ImportSample[];
  temporalDbBytesPerLead?: number;
  postgresBytesPerLead: number;
}

export interface BulkResult {
  import?: BulkJob;
  importScale?: ImportScale;
  campaign?: BulkJob;
}

/** The samples that first reach each of `marks` parked leads (a mark never reached has none). */
export function crossingsOf(samples: readonly ImportSample[], marks: readonly number[] = [1_000, 10_000, 100_000]): ImportSample[] {
  const out: ImportSample[] = [];
  for (const mark of marks) {
    const first = samples.find((s) => s.parked >= mark);
    if (first && !out.includes(first)) out.push(first);
  }
  return out;
}

/** The CSV of `rows` new leads; the `bulk_run` column lands in attributes, the campaign's segment. */
export function bulkCsv(runId: string, rows: number): string {
  const lines = ['id,email,firstName,company,bulk_run'];
  for (let i = 0; i < rows; i++) lines.push(`${runId}-i-${i},i${i}.${runId}@bench.example.com,Bulk,Company ${i % 97},${runId}`);
  return `${lines.join('\n')}\n`;
}

/** Runs `job` while probing the API; answers the job's figures with the probes' answer times. */
async function withProbes<T>(c: BenchContext, label: string, job: () => Promise<T>): Promise<{ value: T; api: BulkJob['api'] }> {
  const { stack, options } = c;
  const detail: number[] = [];
  const enrol: number[] = [];
  let errors = 0;
  let stop = false;
  let n = 0;
  const enrolled: string[] = [];
  const timed = async (into: number[], call: () => Promise<Response>, onOk?: () => void) => {
    const t0 = performance.now();
    try {
      const response = await call();
      await response.arrayBuffer();
      if (response.ok) {
        into.push(performance.now() - t0);
        onOk?.();
      } else errors += 1;
    } catch {
      errors += 1;
    }
  };
  const auth = { authorization: `Bearer ${KEYS.ingest}` };
  const probing = (async () => {
    const every = 1000 / options.probeRate;
    while (!stop) {
      const i = n++;
      const next = Date.now() + every;
      // The lead of the probe before (or one of the baselines') exists: its detail is a real read.
      const readId = i > 0 ? `${stack.runId}-q${label}-${i - 1}` : undefined;
      const id = `${stack.runId}-q${label}-${i}`;
      await Promise.all([
        timed(
          enrol,
          () =>
            fetch(`${stack.apiUrl}/v1/leads`, {
              method: 'POST',
              headers: { ...auth, 'content-type': 'application/json' },
              body: JSON.stringify({ id, email: `q${label}${i}.${stack.runId}@bench.example.com`, firstName: 'Probe' }),
            }),
          () => enrolled.push(id),
        ),
        ...(readId ? [timed(detail, () => fetch(`${stack.apiUrl}/v1/leads/${readId}`, { headers: auth }))] : []),
      ]);
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  try {
    const value = await job();
    stop = true;
    await probing;
    const { rows } = await stack.pool.query<{ ms: number | null }>(
      `SELECT extract(epoch FROM min(o.sent_at) - l.created_at) * 1000 AS ms
         FROM leads l LEFT JOIN email_outbox o ON o.lead_id = l.id AND o.sent_at IS NOT NULL
        WHERE l.id = ANY($1::text[]) GROUP BY l.id, l.created_at`,
      [enrolled],
    );
    const sent = rows.flatMap((r) => (r.ms === null ? [] : [Number(r.ms)]));
    return { value, api: { leadDetailMs: summarize(detail), enrolMs: summarize(enrol), errors, welcomeMs: latencyWithMissing(sent, enrolled.length - sent.length) } };
  } finally {
    stop = true;
    await probing;
  }
}

/** Polls a job's status route every 2 s until `finished` says so; records its progress. */
async function follow(c: BenchContext, url: string, total: number, done: (json: Record<string, unknown>) => number, finished: (json: Record<string, unknown>) => boolean, t0: number) {
  const samples: BulkProgressSample[] = [];
  let stalledSince = Date.now();
  let last = -1;
  for (;;) {
    const answer = await c.stack.http('GET', url, undefined, KEYS.marketing);
    if (answer.status !== 200) throw new Error(`GET ${url}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
    const json = answer.json as Record<string, unknown>;
    const n = done(json);
    samples.push({ t: Math.round((Date.now() - t0) / 100) / 10, done: n });
    c.progress.update(Math.min(n, total));
    if (finished(json)) return { json, samples };
    if (n !== last) {
      last = n;
      stalledSince = Date.now();
    } else if (Date.now() - stalledSince > 300_000) {
      throw new Error(`${url}: no progress for 300 s (at ${n} of ${total})`);
    }
    await sleep(2000);
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** The leads an earlier run imported into this data folder: its run id (their `bulk_run`) and how many; the latest run when several did. */
export async function importedPopulation(pool: BenchContext['stack']['pool']): Promise<{ runId: string; rows: number }> {
  const { rows } = await pool.query<{ run: string; n: number }>(
    `SELECT attributes->>'bulk_run' AS run, count(*)::int AS n FROM leads WHERE attributes ? 'bulk_run' GROUP BY 1 ORDER BY max(created_at) DESC LIMIT 1`,
  );
  if (!rows[0]) throw new Error('--bulk-jobs campaign: this data folder holds no imported leads (run --bulk-jobs import with the same --data-dir first)');
  return { runId: rows[0].run, rows: rows[0].n };
}

/**
 * The earlier run's imported leads once they are all in and parked: a run stopped mid-import left
 * its import job running in the data folder, and it resumes when the stack starts again.
 */
async function settledPopulation(c: BenchContext): Promise<{ runId: string; rows: number }> {
  const { progress, stack } = c;
  const running = async () => (await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM imports WHERE status = 'running'`)).rows[0]!.n;
  if ((await running()) > 0) {
    progress.start('bulk: an import in this data folder is still running: waiting until it ends', 0);
    await waitUntil(async () => ((await running()) === 0 ? 1 : 0), 1, () => undefined, 3_600_000, 5000);
    progress.finish();
  }
  const population = await importedPopulation(stack.pool);
  const parked = () => parkedCount(c, 'i', population.runId);
  progress.start(`bulk: waiting until the ${population.rows} imported leads are parked`, population.rows);
  await waitUntil(parked, population.rows, (n) => progress.update(n), 600_000, 5000);
  progress.finish();
  return population;
}

/** Phase 4: the import, then the campaign over its leads (or the campaign alone, over an earlier run's import). */
export async function runBulk(c: BenchContext, onJob: (partial: BulkResult) => Promise<void>): Promise<BulkResult> {
  const { options, progress, stack } = c;
  const result: BulkResult = {};
  const idleNow = async () => {
    progress.start('bulk: measuring idle CPU and the memory and storage before the jobs', 0);
    const idle = await measureIdle(stack, options.idleMs);
    progress.finish();
    return idle;
  };
  let population: { runId: string; rows: number };
  let idle: Awaited<ReturnType<typeof measureIdle>>;
  if (options.bulkJobs.includes('import')) {
    idle = await idleNow();
    Object.assign(result, await runImport(c, idle));
    population = { runId: stack.runId, rows: result.import!.counts.created! };
    await onJob(result);
  } else {
    // Idle is measured once a resumed import has ended and its leads are parked: not while it works.
    population = await settledPopulation(c);
    progress.log(`bulk: the campaign goes over the ${population.rows} leads run ${population.runId} imported into this data folder`);
    idle = await idleNow();
  }
  if (options.bulkJobs.includes('campaign')) {
    result.campaign = await runCampaign(c, idle, population);
    await onJob(result);
  }
  return result;
}

/** The import of --bulk-rows new leads, until every one parked, with the scale figures it reaches. */
async function runImport(c: BenchContext, idle: Awaited<ReturnType<typeof measureIdle>>): Promise<Pick<BulkResult, 'import' | 'importScale'>> {
  const { options, progress, stack } = c;
  const result: BulkResult = {};
  const rows = options.bulkRows;
  const runParked = () => parkedCount(c, 'i');
  const parkedWhen = options.bulkSequence && WAIT_FIRST_SEQUENCES.includes(options.bulkSequence) ? `in ${options.bulkSequence}'s first wait` : 'first email sent';
  const before = await checkpoint(c, 0);
  const timeline: ImportSample[] = [];
  let sampling = true;
  const sample = async (t0: number) => {
    const [parked, rss, sticky] = await Promise.all([runParked(), stack.rss(), stack.workerMetric(/sticky_cache_size/)]);
    timeline.push({ t: Math.round((Date.now() - t0) / 100) / 10, parked, workerRssBytes: rss.worker, ...(sticky !== undefined ? { workerStickyCacheSize: sticky } : {}) });
  };

  progress.start(`bulk: importing ${rows} rows through POST /v1/imports`, rows);
  const csv = bulkCsv(stack.runId, rows);
  const meter = await cpuMeter(stack, idle);
  const imported = await withProbes(c, 'i', async () => {
    const t0 = Date.now();
    const sampler = (async () => {
      while (sampling) {
        await sample(t0).catch(() => undefined);
        const until = Date.now() + options.bulkSampleMs;
        while (sampling && Date.now() < until) await sleep(Math.min(500, until - Date.now()));
      }
    })();
    try {
      const query = options.bulkSequence ? `?sequence=${encodeURIComponent(options.bulkSequence)}` : '';
      const response = await fetch(`${stack.apiUrl}/v1/imports${query}`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.marketing}`, 'content-type': 'text/csv' }, body: csv });
      const answer = (await response.json()) as { id?: string };
      if (response.status !== 202 || !answer.id) throw new Error(`POST /v1/imports: HTTP ${response.status} ${JSON.stringify(answer)}`);
      const { json, samples } = await follow(c, `/v1/imports/${answer.id}`, rows, (j) => num(j.created) + num(j.updated) + num(j.refused), (j) => j.status !== 'running', t0);
      const seconds = (Date.now() - t0) / 1000;
      progress.finish(`${num(json.created)} created in ${Math.round(seconds)} s; waiting until every one is parked`);
      // The leads' welcome emails go after their workflows start: parked is when the last one went.
      progress.start(`bulk: waiting until the ${num(json.created)} imported leads are parked (${parkedWhen})`, num(json.created));
      await waitUntil(runParked, num(json.created), (n) => progress.update(n), 600_000, 5000);
      const { rows: last } = await stack.pool.query<{ at: Date }>(`SELECT max(updated_at) AS at FROM leads WHERE id LIKE $1`, [`${stack.runId}-i-%`]);
      return { json, samples, seconds, parkedSeconds: ((last[0]?.at?.getTime() ?? Date.now()) - t0) / 1000 };
    } finally {
      sampling = false;
      await sampler;
      await sample(t0).catch(() => undefined);
    }
  });
  const i = imported.value;
  const created = num(i.json.created);
  const cpu = await meter.end(created);
  result.import = {
    what: `POST /v1/imports, ${rows} new leads (${options.bulkSequence ? `sequence ${options.bulkSequence}` : 'default sequence'})`,
    rows,
    seconds: Math.round(i.seconds * 10) / 10,
    rate: rate(created + num(i.json.updated), i.seconds * 1000),
    status: String(i.json.status),
    counts: { created, updated: num(i.json.updated), refused: num(i.json.refused) },
    progress: i.samples,
    api: imported.api,
    parkedSeconds: Math.round(i.parkedSeconds * 10) / 10,
    parkedWhen,
    cpu,
  };
  progress.finish(`${created} created in ${result.import.seconds} s (${result.import.rate}/s), parked after ${result.import.parkedSeconds} s; API p99: detail ${result.import.api.leadDetailMs.p99} ms, enrol ${result.import.api.enrolMs.p99} ms; a new lead's welcome email p50 / p99 ${result.import.api.welcomeMs?.p50} / ${result.import.api.welcomeMs?.p99} ms`);
  const after = await checkpoint(c, created);
  result.importScale = {
    before,
    after,
    crossings: crossingsOf(timeline),
    timeline,
    ...(before.temporalDbBytes !== undefined && after.temporalDbBytes !== undefined && created > 0 ? { temporalDbBytesPerLead: Math.round((after.temporalDbBytes - before.temporalDbBytes) / created) } : {}),
    postgresBytesPerLead: created > 0 ? Math.round((after.postgresBytes - before.postgresBytes) / created) : Number.NaN,
  };
  return result;
}

/** A campaign over the imported leads (segment: their `bulk_run`) into webinar-invite, until it finished. */
async function runCampaign(c: BenchContext, idle: Awaited<ReturnType<typeof measureIdle>>, { runId, rows }: { runId: string; rows: number }): Promise<BulkJob> {
  const { options, progress, stack } = c;
  progress.start(`bulk: a campaign over the ${rows} imported leads at up to ${options.campaignRate}/s`, rows);
  const campaignId = `bench-${stack.runId}`;
  const campaignMeter = await cpuMeter(stack, idle);
  const ran = await withProbes(c, 'c', async () => {
    const t0 = Date.now();
    const answer = await stack.http('POST', '/v1/campaigns', { id: campaignId, sequence: BULK_CAMPAIGN_SEQUENCE, segment: { attributes: { bulk_run: runId } }, ratePerSecond: options.campaignRate }, KEYS.marketing);
    if (answer.status !== 202) throw new Error(`POST /v1/campaigns: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
    const finishedStatuses = new Set(['completed', 'cancelled']);
    const done = (j: Record<string, unknown>) => num(j.enrolled) + num(j.failed) + Object.values((j.skipped as Record<string, number>) ?? {}).reduce((a, b) => a + b, 0);
    const { json, samples } = await follow(c, `/v1/campaigns/${campaignId}`, rows, done, (j) => finishedStatuses.has(String(j.status)), t0);
    return { json, samples, seconds: (Date.now() - t0) / 1000 };
  });
  const k = ran.value;
  const skipped = (k.json.skipped as Record<string, number>) ?? {};
  const campaign: BulkJob = {
    what: `POST /v1/campaigns, segment of the ${rows} imported leads${runId === stack.runId ? '' : ` (run ${runId}'s import)`} → ${BULK_CAMPAIGN_SEQUENCE}, ratePerSecond ${options.campaignRate}`,
    rows,
    seconds: Math.round(k.seconds * 10) / 10,
    rate: rate(num(k.json.enrolled), k.seconds * 1000),
    status: String(k.json.status),
    counts: { matched: num(k.json.matched), enrolled: num(k.json.enrolled), failed: num(k.json.failed), ...Object.fromEntries(Object.entries(skipped).map(([r, n]) => [`skipped ${r}`, n])) },
    progress: k.samples,
    api: ran.api,
    cpu: await campaignMeter.end(num(k.json.enrolled)),
  };
  progress.finish(`${campaign.counts.enrolled} enrolled in ${campaign.seconds} s (${campaign.rate}/s); API p99: detail ${campaign.api.leadDetailMs.p99} ms, enrol ${campaign.api.enrolMs.p99} ms`);
  return campaign;
}
