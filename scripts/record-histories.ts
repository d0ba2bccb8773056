/**
 * Records workflow histories from real runs of the current lead workflow code on the
 * time-skipping test server, into test/histories/<name>.json. The replay suite
 * (test/workflow/replay.test.ts) replays every file there under the current code, so a
 * non-deterministic change to workflows/ fails CI before it reaches a running lead.
 *
 *   npm run histories:record                 record the scenarios that have no file yet
 *   npm run histories:record -- <name>...    (re)record these scenarios only
 *   npm run histories:record -- --list       list the scenarios
 *
 * Never re-record an existing history to make a failing replay pass: the old file is the proof
 * that leads started under the old code still replay. Record new scenarios under new names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
const { temporal } = proto;
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { programSnapshot } from '../src/sequences/catalog.js';
import { createTimeSkippingTestEnv } from '../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../src/worker.js';
import type { leadWorkflow } from '../workflows/lead.js';
import { LEAD_WORKFLOW_TYPE, acceptUpdate, disqualifyUpdate, engagementSignal, leadStateQuery, migrateSequenceSignal, outcomeUpdate, rejectUpdate, unsubscribeSignal } from '../workflows/messages.js';
import { onboarding } from '../src/sequences/catalog.js';
import { recordingActivities } from '../test/helpers/fake-activities.js';
import { startAttributes } from '../workflows/search-attributes.js';
import { eventually } from '../test/helpers/eventually.js';

export const HISTORIES_DIR = fileURLToPath(new URL('../test/histories/', import.meta.url));

type Handle = WorkflowHandle<typeof leadWorkflow>;
interface Ctx {
  env: TestWorkflowEnvironment;
  handle: Handle;
  recorded: ReturnType<typeof recordingActivities>;
  /** Histories to write besides the final run's (e.g. the run before a continue-as-new). */
  extraRuns: string[];
}
interface Scenario {
  name: string;
  description: string;
  sequence: string;
  historyBudget?: number;
  timezone?: string;
  /** The sales owners assignOwner hands reviews to (none: reviews have no owner). */
  owners?: string[];
  run(ctx: Ctx): Promise<void>;
}

let counter = 0;
const signalEvents = async (handle: Handle, types: string[]): Promise<void> => {
  for (const type of types) await handle.signal(engagementSignal, { eventId: `rec-${++counter}`, type, occurredAt: new Date(0).toISOString() });
};
const stageIs = (handle: Handle, stage: string) => eventually(async () => {
  const state = await handle.query(leadStateQuery);
  if (state.stage !== stage) throw new Error(`stage ${state.stage}, want ${stage}`);
});
const nurtureCount = (ctx: Ctx, n: number) =>
  eventually(() => {
    const sent = ctx.recorded.emails.filter((e) => e.kind === 'nurture').length;
    if (sent < n) throw new Error(`${sent} nurture emails, want ${n}`);
  });

export const scenarios: Scenario[] = [
  {
    name: 'onboarding-complete',
    description: 'onboarding through all four emails, then idle in nurturing',
    sequence: 'onboarding',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await ctx.env.sleep('11 days');
      await nurtureCount(ctx, 4);
    },
  },
  {
    name: 'escalate-reject-recycle',
    description: 'escalation, reject (no_budget), recycle emails, second escalation, accept',
    sequence: 'onboarding',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await stageIs(ctx.handle, 'sales_review');
      await ctx.env.sleep('1 day');
      await ctx.handle.executeUpdate(rejectUpdate, { args: [{ by: 'sam@sales', reason: 'no_budget' }] });
      await ctx.env.sleep('30 days');
      await nurtureCount(ctx, 3);
      await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'form.submitted']);
      await stageIs(ctx.handle, 'sales_review');
      await ctx.handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] });
      await ctx.handle.result();
    },
  },
  {
    name: 'unsubscribe',
    description: 'welcome, unsubscribe, later steps skipped',
    sequence: 'onboarding',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await ctx.handle.signal(unsubscribeSignal);
      await eventually(async () => {
        if (!(await ctx.handle.query(leadStateQuery)).unsubscribed) throw new Error('not unsubscribed yet');
      });
      await ctx.env.sleep('11 days');
    },
  },
  {
    name: 'continue-as-new',
    description: 'a tiny history budget: the lead continues as new between onboarding steps',
    sequence: 'onboarding',
    // 12 when the committed files were recorded; the patch markers of later code need 16.
    historyBudget: 16,
    async run(ctx) {
      const first = (await ctx.handle.describe()).runId;
      await ctx.env.sleep('11 days');
      await nurtureCount(ctx, 4);
      ctx.extraRuns.push(first);
    },
  },
  // Recorded once the step kinds, delivery rules and migrations existed.
  {
    name: 'webinar-engaged',
    description: 'webinar-invite: a click during the waitFor takes the `then` branch, exit does not hold, pricing guide',
    sequence: 'webinar-invite',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await ctx.env.sleep('1 day');
      await signalEvents(ctx.handle, ['email.clicked']);
      await nurtureCount(ctx, 2);
      await ctx.env.sleep('5 days');
      await nurtureCount(ctx, 3);
    },
  },
  {
    name: 'webinar-timeout-goto',
    description: 'webinar-invite: both waitFors time out, goto onboarding, send window and frequency cap on the later emails',
    sequence: 'webinar-invite',
    timezone: 'America/New_York',
    async run(ctx) {
      await ctx.env.sleep('14 days');
      await nurtureCount(ctx, 5);
    },
  },
  {
    name: 'migrate-and-decay',
    description: 'onboarding in Asia/Tokyo: migrateSequence to a v2 at the next wait, points decaying after 90 days',
    sequence: 'onboarding',
    timezone: 'Asia/Tokyo',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await signalEvents(ctx.handle, ['product.compared', 'webinar.viewed']);
      await ctx.env.sleep('1 day');
      const v2 = { ...onboarding, version: 2, steps: [...onboarding.steps.slice(0, 6), { kind: 'email' as const, template: 'recycle-whats-new' }] };
      await ctx.handle.signal(migrateSequenceSignal, { sequence: v2 });
      await ctx.env.sleep('100 days');
      await nurtureCount(ctx, 4);
    },
  },
  // Recorded with the review SLA, owners and disqualification in the code (issue 21).
  {
    name: 'sla-reminder-escalation',
    description: 'escalation with an owner; the review SLA expires twice: a reminder to the owner, then the manager; accepted after',
    sequence: 'onboarding',
    owners: ['olga@example.com'],
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await stageIs(ctx.handle, 'sales_review');
      await ctx.env.sleep('10 days');
      await eventually(() => {
        const levels = ctx.recorded.reminders.map((r) => r.level);
        if (levels.join() !== '1,2') throw new Error(`reminders ${levels.join()}, want 1,2`);
      });
      await ctx.handle.executeUpdate(acceptUpdate, { args: [{ by: 'olga@example.com' }] });
      await ctx.handle.result();
    },
  },
  {
    name: 'owner-assignment',
    description: 'two reviews, each assigned an owner round-robin (olga, then piet); rejected (not_ready) in between, accepted in time',
    sequence: 'onboarding',
    owners: ['olga@example.com', 'piet@example.com'],
    async run(ctx) {
      await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => {
        if ((await ctx.handle.query(leadStateQuery)).review?.owner !== 'olga@example.com') throw new Error('review #1 not assigned yet');
      });
      await ctx.handle.executeUpdate(rejectUpdate, { args: [{ by: 'olga@example.com', reason: 'not_ready' }] });
      await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'form.submitted']);
      await eventually(async () => {
        if ((await ctx.handle.query(leadStateQuery)).review?.owner !== 'piet@example.com') throw new Error('review #2 not assigned yet');
      });
      await ctx.handle.executeUpdate(acceptUpdate, { args: [{ by: 'piet@example.com' }] });
      await ctx.handle.result();
    },
  },
  {
    name: 'disqualify',
    description: 'welcome, some engagement, then disqualified by an admin: the workflow ends in the terminal stage',
    sequence: 'onboarding',
    async run(ctx) {
      await nurtureCount(ctx, 1);
      await signalEvents(ctx.handle, ['pricing.viewed']);
      await ctx.env.sleep('3 days');
      await nurtureCount(ctx, 2);
      await ctx.handle.executeUpdate(disqualifyUpdate, { args: [{ by: 'admin@example.com', reason: 'competitor' }] });
      await ctx.handle.result();
    },
  },
];

// Recorded from the lead engine v2 (patch lead-engine-v2): the same paths under the new engine.
const V2_PATHS = ['onboarding-complete', 'escalate-reject-recycle', 'unsubscribe', 'continue-as-new', 'webinar-timeout-goto', 'migrate-and-decay', 'owner-assignment', 'disqualify'];
scenarios.push(
  ...V2_PATHS.map((name): Scenario => {
    const v1 = scenarios.find((s) => s.name === name)!;
    return { ...v1, name: `v2-${name}`, description: `engine v2: ${v1.description}` };
  }),
);

// Recorded from engine v2 whose rollover waits for a fresh input (patch lead-engine-v2-fresh-rollover).
scenarios.push({ ...scenarios.find((s) => s.name === 'continue-as-new')!, name: 'v2-fresh-rollover-continue-as-new', description: 'engine v2, rollover on a fresh input: the lead continues as new between onboarding steps' });

// Recorded from engine v2 whose accepted lead waits for its outcome (patch lead-engine-v2-outcomes).
scenarios.push({
  name: 'v2-outcome-recycle',
  description: 'engine v2 with outcomes: escalation, accept, lost + recycle, recycle emails, second escalation, accept, won',
  sequence: 'onboarding',
  async run(ctx) {
    await nurtureCount(ctx, 1);
    await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'pricing.viewed']);
    await stageIs(ctx.handle, 'sales_review');
    await ctx.handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] });
    await ctx.env.sleep('2 days');
    await ctx.handle.executeUpdate(outcomeUpdate, { args: [{ by: 'sam@sales', outcome: 'lost', reason: 'timing', recycle: true }] });
    await ctx.env.sleep('30 days');
    await nurtureCount(ctx, 3);
    await signalEvents(ctx.handle, ['product.compared', 'product.compared', 'form.submitted']);
    await stageIs(ctx.handle, 'sales_review');
    await ctx.handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] });
    await ctx.handle.executeUpdate(outcomeUpdate, { args: [{ by: 'sam@sales', outcome: 'won', amount: 12500, currency: 'EUR' }] });
    await ctx.handle.result();
  },
});

async function record(env: TestWorkflowEnvironment, workflowBundle: WorkflowBundleWithSourceMap, scenario: Scenario): Promise<string[]> {
  const taskQueue = `rec-${randomUUID()}`;
  const recorded = recordingActivities({ owners: scenario.owners });
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: recorded.activities });
  const leadId = `rec-${scenario.name}`;
  const workflowId = `lead-${leadId}`;
  const written: string[] = [];
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof leadWorkflow>(LEAD_WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [
        {
          lead: { id: leadId, email: `${leadId}@example.com`, firstName: 'Ada', company: 'Acme', ...(scenario.timezone ? { timezone: scenario.timezone } : {}) },
          program: programSnapshot(scenario.sequence),
          ...(scenario.historyBudget ? { historyBudget: scenario.historyBudget } : {}),
        },
      ],
      // As the API starts a lead (the v2 engine then upserts none at enrolment).
      ...(scenario.name.startsWith('v2-') ? { typedSearchAttributes: startAttributes(programSnapshot(scenario.sequence).enrolSequence) } : {}),
    });
    const ctx: Ctx = { env, handle, recorded, extraRuns: [] };
    await scenario.run(ctx);
    const runs = [...ctx.extraRuns, (await handle.describe()).runId];
    for (const [i, runId] of runs.entries()) {
      const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      const file = path.join(HISTORIES_DIR, runs.length === 1 ? `${scenario.name}.json` : `${scenario.name}.run${i + 1}.json`);
      fs.writeFileSync(file, JSON.stringify({ workflowId, description: scenario.description, history: historyToObject(history) }, null, 1) + '\n');
      written.push(file);
    }
  });
  return written;
}

/**
 * Protobuf's own object form (enums and 64-bit numbers as strings, bytes as base64), read back
 * with `History.fromObject` (test/histories/load.ts). Not the SDK's historyToJSON: under this
 * install it trips over two protobufjs copies ("type must be a Type").
 */
function historyToObject(history: proto.temporal.api.history.v1.IHistory): unknown {
  return temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(history), { longs: String, enums: String, bytes: String });
}

const exists = (name: string) => fs.readdirSync(HISTORIES_DIR).some((f) => f === `${name}.json` || f.startsWith(`${name}.run`));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--list') || args.includes('--help')) {
    for (const s of scenarios) console.log(`${s.name.padEnd(28)} ${s.description}`);
    return;
  }
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  const unknown = args.filter((a) => !scenarios.some((s) => s.name === a));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; see --list`);
  const chosen = args.length ? scenarios.filter((s) => args.includes(s.name)) : scenarios.filter((s) => !exists(s.name));
  if (chosen.length === 0) {
    console.log('every scenario has a recorded history; name one to re-record it');
    return;
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflows();
  for (const scenario of chosen) {
    // One server per scenario: time is global to a test server.
    const env = await createTimeSkippingTestEnv();
    try {
      const files = await record(env, workflowBundle, scenario);
      for (const f of files) console.log(`recorded ${path.relative(process.cwd(), f)}`);
    } finally {
      await env.teardown();
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
