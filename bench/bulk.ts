import type { BenchContext } from './context.js';
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
  /** The API's answer times while the job ran (probes at --probe-rate each). */
  api: { leadDetailMs: LatencySummary; enrolMs: LatencySummary; errors: number };
  /** The import only: until every imported lead's read model showed its first email sent (parked). */
  parkedSeconds?: number;
}

export interface BulkResult {
  import?: BulkJob;
  campaign?: BulkJob;
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
  const timed = async (into: number[], call: () => Promise<Response>) => {
    const t0 = performance.now();
    try {
      const response = await call();
      await response.arrayBuffer();
      if (response.ok) into.push(performance.now() - t0);
      else errors += 1;
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
      await Promise.all([
        timed(enrol, () =>
          fetch(`${stack.apiUrl}/v1/leads`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ id: `${stack.runId}-q${label}-${i}`, email: `q${label}${i}.${stack.runId}@bench.example.com`, firstName: 'Probe' }),
          }),
        ),
        ...(readId ? [timed(detail, () => fetch(`${stack.apiUrl}/v1/leads/${readId}`, { headers: auth }))] : []),
      ]);
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  try {
    const value = await job();
    return { value, api: { leadDetailMs: summarize(detail), enrolMs: summarize(enrol), errors } };
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

/** Phase 4: the import, then the campaign over its leads. */
export async function runBulk(c: BenchContext, onJob: (partial: BulkResult) => Promise<void>): Promise<BulkResult> {
  const { options, progress, stack } = c;
  const result: BulkResult = {};
  const rows = options.bulkRows;

  progress.start(`bulk: importing ${rows} rows through POST /v1/imports`, rows);
  const csv = bulkCsv(stack.runId, rows);
  const imported = await withProbes(c, 'i', async () => {
    const t0 = Date.now();
    const response = await fetch(`${stack.apiUrl}/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.marketing}`, 'content-type': 'text/csv' }, body: csv });
    const answer = (await response.json()) as { id?: string };
    if (response.status !== 202 || !answer.id) throw new Error(`POST /v1/imports: HTTP ${response.status} ${JSON.stringify(answer)}`);
    const { json, samples } = await follow(c, `/v1/imports/${answer.id}`, rows, (j) => num(j.created) + num(j.updated) + num(j.refused), (j) => j.status !== 'running', t0);
    const seconds = (Date.now() - t0) / 1000;
    // The leads' welcome emails go after their workflows start: parked is when the last one went.
    const parked = async () => Number((await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND sequence_step >= 1`, [`${stack.runId}-i-%`])).rows[0]!.n);
    while ((await parked()) < num(json.created)) await sleep(2000);
    const { rows: last } = await stack.pool.query<{ at: Date }>(`SELECT max(updated_at) AS at FROM leads WHERE id LIKE $1`, [`${stack.runId}-i-%`]);
    return { json, samples, seconds, parkedSeconds: ((last[0]?.at?.getTime() ?? Date.now()) - t0) / 1000 };
  });
  const i = imported.value;
  result.import = {
    what: `POST /v1/imports, ${rows} new leads (default sequence)`,
    rows,
    seconds: Math.round(i.seconds * 10) / 10,
    rate: rate(num(i.json.created) + num(i.json.updated), i.seconds * 1000),
    status: String(i.json.status),
    counts: { created: num(i.json.created), updated: num(i.json.updated), refused: num(i.json.refused) },
    progress: i.samples,
    api: imported.api,
    parkedSeconds: Math.round(i.parkedSeconds * 10) / 10,
  };
  progress.finish(`${result.import.counts.created} created in ${result.import.seconds} s (${result.import.rate}/s), parked after ${result.import.parkedSeconds} s; API p99: detail ${result.import.api.leadDetailMs.p99} ms, enrol ${result.import.api.enrolMs.p99} ms`);
  await onJob(result);

  progress.start(`bulk: a campaign over the ${rows} imported leads at up to ${options.campaignRate}/s`, rows);
  const campaignId = `bench-${stack.runId}`;
  const ran = await withProbes(c, 'c', async () => {
    const t0 = Date.now();
    const answer = await stack.http('POST', '/v1/campaigns', { id: campaignId, sequence: 'webinar-invite', segment: { attributes: { bulk_run: stack.runId } }, ratePerSecond: options.campaignRate }, KEYS.marketing);
    if (answer.status !== 202) throw new Error(`POST /v1/campaigns: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
    const finishedStatuses = new Set(['completed', 'cancelled']);
    const done = (j: Record<string, unknown>) => num(j.enrolled) + num(j.failed) + Object.values((j.skipped as Record<string, number>) ?? {}).reduce((a, b) => a + b, 0);
    const { json, samples } = await follow(c, `/v1/campaigns/${campaignId}`, rows, done, (j) => finishedStatuses.has(String(j.status)), t0);
    return { json, samples, seconds: (Date.now() - t0) / 1000 };
  });
  const k = ran.value;
  const skipped = (k.json.skipped as Record<string, number>) ?? {};
  result.campaign = {
    what: `POST /v1/campaigns, segment of the ${rows} imported leads → webinar-invite, ratePerSecond ${options.campaignRate}`,
    rows,
    seconds: Math.round(k.seconds * 10) / 10,
    rate: rate(num(k.json.enrolled), k.seconds * 1000),
    status: String(k.json.status),
    counts: { matched: num(k.json.matched), enrolled: num(k.json.enrolled), failed: num(k.json.failed), ...Object.fromEntries(Object.entries(skipped).map(([r, n]) => [`skipped ${r}`, n])) },
    progress: k.samples,
    api: ran.api,
  };
  progress.finish(`${result.campaign.counts.enrolled} enrolled in ${result.campaign.seconds} s (${result.campaign.rate}/s); API p99: detail ${result.campaign.api.leadDetailMs.p99} ms, enrol ${result.campaign.api.enrolMs.p99} ms`);
  await onJob(result);
  return result;
}
