import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeadflowCluster, type LeadflowCluster } from '../../src/cluster/topology.js';
import { freePort } from '../../src/infra/net.js';

/**
 * Faults on the production topology (`npm run test:cluster`): the four Temporal services on
 * PostgreSQL, 2 APIs and 3 workers, each a process. While a steady stream of enrolments and
 * engagement events flows through the APIs, one worker, then the history service, then one API
 * is killed with SIGKILL and started again. Afterwards every acknowledged lead and event must be
 * there, every lead must have its email exactly once, and the time to recover is reported.
 */

const KEYS = { ingest: 'cluster-ingest-key', admin: 'cluster-admin-key' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The relay the workers send through: counts every message by its send key. */
const received = new Map<string, number>();
const receivedAt = new Map<string, number>();
const relay = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, _session, callback) {
    let raw = '';
    stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    stream.on('end', () => {
      const key = /^x-leadflow-send-key:\s*(\S+)/im.exec(raw)?.[1] ?? 'unknown';
      received.set(key, (received.get(key) ?? 0) + 1);
      if (!receivedAt.has(key)) receivedAt.set(key, Date.now());
      callback();
    });
  },
});

let dir: string;
let cluster: LeadflowCluster;
const log = (line: string) => console.log(`[cluster test] ${line}`);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-cluster-'));
  const relayPort = await freePort();
  await new Promise<void>((resolve) => relay.listen(relayPort, '127.0.0.1', resolve));
  cluster = await startLeadflowCluster({
    dataDir: dir,
    apis: 2,
    workers: 3,
    smtpUrl: `smtp://127.0.0.1:${relayPort}`,
    appEnv: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LEADS_API_KEYS: `ingest:${KEYS.ingest},admin:${KEYS.admin}`,
      RATE_LIMIT_MAX: '0',
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
    },
    log,
  });
});

afterAll(async () => {
  await cluster?.stop();
  await new Promise<void>((resolve) => relay.close(() => resolve()));
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

interface Acked {
  leads: Set<string>;
  /** Event ids the API acknowledged (202), per lead. */
  events: Map<string, Set<string>>;
  /** Leads whose three escalating events were all acknowledged. */
  escalated: Set<string>;
  requests: number;
  retried: number;
  /** When each acknowledgement came, to find the longest silence. */
  ackTimes: number[];
}

/** One request on any API, retried on the others (same lead id, same event id) for up to 90 s. */
async function call(method: string, url: string, body: unknown, key: string, acked: Acked): Promise<number | undefined> {
  const deadline = Date.now() + 90_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const api = cluster.apis[(Math.floor(Math.random() * cluster.apis.length) + attempt) % cluster.apis.length]!;
    acked.requests += 1;
    if (attempt) acked.retried += 1;
    try {
      const response = await fetch(`${api.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      await response.text();
      if (response.status < 500) return response.status;
    } catch {
      // Connection refused (the API is down) or no answer in time (Temporal is away): retry.
    }
    await sleep(300);
  }
  return undefined;
}

function startLoad(acked: Acked): { stop(): Promise<void> } {
  let running = true;
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  const oneLead = async (id: string) => {
    const status = await call('POST', '/v1/leads', { id, email: `${id}@example.com` }, KEYS.ingest, acked);
    if (status !== 201 && status !== 200) return;
    acked.leads.add(id);
    acked.ackTimes.push(Date.now());
    const escalate = n % 4 === 0;
    const types = escalate ? ['product.compared', 'product.compared', 'pricing.viewed'] : ['page.viewed', 'page.viewed'];
    let all = true;
    for (const [i, type] of types.entries()) {
      const eventId = `${id}-e${i}`;
      const answer = await call('POST', `/v1/leads/${id}/events`, { eventId, type }, KEYS.ingest, acked);
      if (answer === 202) {
        if (!acked.events.has(id)) acked.events.set(id, new Set());
        acked.events.get(id)!.add(eventId);
        acked.ackTimes.push(Date.now());
      } else all = false;
    }
    if (escalate && all) acked.escalated.add(id);
  };
  const loop = (async () => {
    // About four new leads a second, each with two or three events: steady, not a flood.
    while (running) {
      const id = `cl-${(n++).toString().padStart(4, '0')}`;
      const work = oneLead(id).finally(() => inFlight.delete(work));
      inFlight.add(work);
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

/** From `since`, until a lead enrolled after the fault has its welcome email: the path works again. */
async function recoveryMs(since: number, label: string, acked: Acked): Promise<number> {
  for (let i = 0; ; i++) {
    const id = `probe-${label}-${i}`;
    const status = await call('POST', '/v1/leads', { id, email: `${id}@example.com` }, KEYS.ingest, acked);
    if (status === 201 || status === 200) {
      acked.leads.add(id);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const key = [...receivedAt.keys()].find((k) => k.startsWith(`${id}:`));
        if (key) return receivedAt.get(key)! - since;
        await sleep(100);
      }
    }
    if (Date.now() - since > 300_000) throw new Error(`${label}: no recovery within 300 s`);
  }
}

function longestSilenceMs(times: number[], from: number, to: number): number {
  const inWindow = [from, ...times.filter((t) => t >= from && t <= to).sort((a, b) => a - b), to];
  let longest = 0;
  for (let i = 1; i < inWindow.length; i++) longest = Math.max(longest, inWindow[i]! - inWindow[i - 1]!);
  return longest;
}

describe('the cluster under faults', () => {
  it('loses no lead or acknowledged event, sends no email twice, and recovers from a killed worker, history service and API', async () => {
    const acked: Acked = { leads: new Set(), events: new Map(), escalated: new Set(), requests: 0, retried: 0, ackTimes: [] };
    const load = startLoad(acked);
    const faults: Array<{ fault: string; downMs: number; recoveryMs: number; longestSilenceMs: number }> = [];
    const inject = async (fault: string, kill: () => Promise<void>, restart: () => Promise<void>) => {
      const at = Date.now();
      log(`fault: ${fault} (SIGKILL)`);
      await kill();
      const recovering = recoveryMs(at, fault.replace(/\W+/g, '-'), acked);
      await sleep(3000);
      await restart();
      const downMs = Date.now() - at;
      const recovery = await recovering;
      await sleep(5000);
      faults.push({ fault, downMs, recoveryMs: recovery, longestSilenceMs: longestSilenceMs(acked.ackTimes, at, Date.now()) });
      log(`${fault}: restarted after ${downMs} ms; a new lead's email went out ${recovery} ms after the kill`);
    };

    await sleep(10_000);
    await inject('worker-1', () => cluster.workers[0]!.kill(), () => cluster.workers[0]!.start());
    const history = cluster.temporal.services.history;
    await inject('temporal history service', () => history.kill(), async () => {
      history.start();
      await cluster.temporal.waitHealthy();
    });
    await inject('api-1', () => cluster.apis[0]!.kill(), () => cluster.apis[0]!.start());
    await sleep(5000);
    await load.stop();
    log(`load stopped: ${acked.leads.size} leads and ${[...acked.events.values()].reduce((n, s) => n + s.size, 0)} events acknowledged, ${acked.requests} requests (${acked.retried} retries)`);

    // Settle: every acknowledged lead has its welcome email; every escalated lead its sales notification.
    const welcome = (id: string) => [...received.keys()].filter((k) => new RegExp(`^${id}:onboarding@v\\d+:e1:s0$`).test(k));
    const settleStart = Date.now();
    const missing = () => [
      ...[...acked.leads].filter((id) => welcome(id).length === 0).map((id) => `${id}: welcome`),
      ...[...acked.escalated].filter((id) => !received.has(`${id}:sales-review:1`)).map((id) => `${id}: sales notification`),
    ];
    while (missing().length && Date.now() - settleStart < 180_000) await sleep(1000);
    const settledMs = Date.now() - settleStart;

    // Every acknowledged lead is there, with every acknowledged event in its workflow's score.
    const lost: string[] = [];
    const lostEvents: string[] = [];
    const stuck: string[] = [];
    for (const id of acked.leads) {
      const response = await fetch(`${cluster.apis[1]!.url}/v1/leads/${id}`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
      if (response.status !== 200) {
        lost.push(`${id}: HTTP ${response.status}`);
        continue;
      }
      const lead = (await response.json()) as { stage: string; scoreBreakdown: Array<{ eventId: string }>; sequence: { step: number } };
      const scored = new Set(lead.scoreBreakdown.map((item) => item.eventId));
      for (const eventId of acked.events.get(id) ?? []) if (!scored.has(eventId)) lostEvents.push(eventId);
      if (acked.escalated.has(id) && lead.stage !== 'sales_review') stuck.push(`${id}: ${lead.stage}, expected sales_review`);
      if (lead.sequence.step < 1 && lead.stage === 'nurturing') stuck.push(`${id}: still at step 0`);
    }
    stuck.push(...missing());
    const duplicates = [...received].filter(([, count]) => count > 1).map(([key, count]) => `${key} x${count}`);

    const report = {
      leads: acked.leads.size,
      events: [...acked.events.values()].reduce((n, s) => n + s.size, 0),
      escalated: acked.escalated.size,
      emails: [...received.values()].reduce((a, b) => a + b, 0),
      lost: lost.length,
      lostEvents: lostEvents.length,
      stuck: stuck.length,
      duplicates: duplicates.length,
      settledMs,
      faults,
    };
    log(`report: ${JSON.stringify(report)}`);
    await fs.mkdir('test-artifacts', { recursive: true });
    await fs.writeFile(path.join('test-artifacts', 'cluster-faults.json'), `${JSON.stringify(report, null, 2)}\n`);

    expect(acked.leads.size).toBeGreaterThan(50);
    expect(lost).toEqual([]);
    expect(lostEvents).toEqual([]);
    expect(stuck).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(faults.map((f) => f.fault)).toEqual(['worker-1', 'temporal history service', 'api-1']);
    for (const f of faults) expect(f.recoveryMs).toBeGreaterThan(0);
  });
});
