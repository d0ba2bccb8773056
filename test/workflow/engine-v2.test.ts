import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installTestRuntime } from '../helpers/runtime.js';
import type { LeadActivities, SendNurtureEmailInput } from '../../activities/types.js';
import { defaultProgram, pinTemplates, programSnapshot } from '../../src/sequences/catalog.js';
import { renderPinned } from '../../src/sequences/templates.js';
import { SequenceSchema, type Program, type ProgramSnapshot, type SequenceDefinition } from '../../src/sequences/model.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { engagementSignal, leadStateQuery, rejectUpdate, type LeadWorkflowInput } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';
import { HISTORIES_DIR } from '../helpers/histories.js';

/**
 * The lead engine v2 on the time-skipping server: the defects of the first engine (each of these
 * fails on it), pinned templates, and a first-engine run draining into v2 (bounded state under a
 * stream of events: test/integration/continue-as-new.test.ts, on the dev server).
 */

const DAY = 86_400_000;
const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
const sequence = (definition: SequenceDefinition) => SequenceSchema.parse(definition);

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  installTestRuntime();
  workflowBundle = await bundleWorkflows();
});
beforeEach(async () => {
  env = await createTimeSkippingTestEnv();
});
afterEach(async () => {
  await env?.teardown();
});

type Handle = WorkflowHandle<typeof leadWorkflow>;
type Recorded = ReturnType<typeof recordingActivities>;

async function withLead(
  input: Omit<LeadWorkflowInput, 'lead'> & { lead?: LeadWorkflowInput['lead'] },
  body: (handle: Handle, recorded: Recorded) => Promise<void>,
  override: Partial<LeadActivities> = {},
): Promise<void> {
  const taskQueue = `v2-${randomUUID()}`;
  const recorded = recordingActivities();
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: { ...recorded.activities, ...override } });
  const leadId = `V-${randomUUID().slice(0, 8)}`;
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(leadWorkflow, {
      taskQueue,
      workflowId: `lead-${input.lead?.id ?? leadId}`,
      args: [{ lead: { id: leadId, email: `${leadId.toLowerCase()}@example.com`, firstName: 'Ada' }, ...input }],
    });
    await body(handle, recorded);
  });
}

let n = 0;
const signal = async (handle: Handle, ...types: string[]) => {
  for (const type of types) await handle.signal(engagementSignal, { eventId: `v-${++n}`, type, occurredAt: new Date(0).toISOString() });
};
const nurture = (recorded: Recorded) => recorded.emails.filter((e) => e.kind === 'nurture').map((e) => e.template);
const stage = async (handle: Handle, want: string) => eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe(want));

describe('defects of the first engine, fixed', () => {
  it('no marketing email while in review, even one that waited for the send window before the escalation', async () => {
    // Window 1 hour a day, 12 hours from now: the second email (after 2 days) waits for it.
    const now = await env.currentTimeMs();
    const opens = new Date(now + 12 * 3_600_000);
    const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:00`;
    const start = hhmm(opens);
    const end = start === '23:00' ? '24:00' : hhmm(new Date(opens.getTime() + 3_600_000));
    const windowed: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start, end } } };
    await withLead({ program: programSnapshot('onboarding', windowed) }, async (handle, recorded) => {
      await eventually(() => expect(nurture(recorded)).toEqual(['welcome']));
      await env.sleep(2 * DAY + 60_000);
      await eventually(async () => expect((await handle.query(leadStateQuery)).delivery?.nextSendAt).not.toBeNull());
      await signal(handle, 'product.compared', 'product.compared', 'pricing.viewed');
      await stage(handle, 'sales_review');
      await env.sleep('3 days');
      expect(nurture(recorded)).toEqual(['welcome']);
    });
  });

  it('`exit when eventSeen` counts the current enrolment only', async () => {
    const recycleExit = sequence({
      id: 'recycle-exit',
      version: 1,
      description: 'test',
      steps: [
        { kind: 'wait', duration: '1 day' },
        { kind: 'exit', when: { eventSeen: 'form.submitted' } },
        { kind: 'email', template: 'recycle-checkin' },
      ],
    });
    const program: ProgramSnapshot = { ...programSnapshot('onboarding', anyHour), recycleSequence: recycleExit };
    await withLead({ program }, async (handle, recorded) => {
      await signal(handle, 'form.submitted', 'product.compared', 'product.compared');
      await stage(handle, 'sales_review');
      await handle.executeUpdate(rejectUpdate, { args: [{ by: 'sam', reason: 'other' }] });
      await env.sleep('2 days');
      // The form came during the first enrolment: the recycle sequence goes on to its email.
      await eventually(() => expect(nurture(recorded)).toEqual(['welcome', 'recycle-checkin']));
    });
  });

  it('the loop guard holds a loop whose emails wait for the frequency cap', async () => {
    const loop = sequence({ id: 'no-wait-loop', version: 1, description: 'test', steps: [{ label: 'top', kind: 'email', template: 'welcome' }, { kind: 'goto', to: 'top' }] });
    await withLead({ program: { ...anyHour, enrolSequence: loop } }, async (handle, recorded) => {
      await env.sleep('60 days');
      await eventually(async () => expect((await handle.query(leadStateQuery)).timeline.map((t) => t.text)).toContain('no-wait-loop@v1 stopped at step 0: 20 steps without a wait'));
      // 10 emails (3 per rolling week) and then no more; the first engine went on forever.
      expect(nurture(recorded)).toHaveLength(10);
    });
  });
});

describe('templates pinned with the sequence version', () => {
  it('sends the content pinned at enrolment, for a template the worker no longer has', async () => {
    const program = pinTemplates(programSnapshot('onboarding', anyHour), { id: 'x', email: 'x@example.com', firstName: 'Grace' });
    // The template file was deleted after the lead enrolled: its pinned content still goes.
    const pinned = { ...program, enrolSequence: { ...program.enrolSequence, steps: [{ kind: 'email' as const, template: 'gone' }, ...program.enrolSequence.steps.slice(1)] }, templates: { ...program.templates!, gone: { kind: 'marketing' as const, subject: 'Pinned', text: 't', html: 'h' } } };
    const inputs: SendNurtureEmailInput[] = [];
    await withLead(
      { program: pinned },
      async () => {
        await env.sleep('3 days');
        await eventually(() => expect(inputs.map((i) => [i.template, i.content && renderPinned(i.content, i.lead).subject])).toEqual([['gone', 'Pinned'], ['customer-stories', 'How three teams stopped losing leads at the hand-off']]));
      },
      {
        async sendNurtureEmail(input) {
          inputs.push(input);
          return { sent: true, messageId: input.sendKey };
        },
      },
    );
  });
});

describe('rollout: a first-engine run drains into v2', () => {
  it('a lead that continued as new under the first engine resumes on v2 from its state, on schedule, each email once', async () => {
    // The second run of the committed continue-as-new history started from the first engine's state.
    const recorded = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, 'continue-as-new.run2.json'), 'utf8')) as { history: unknown };
    const history = proto.temporal.api.history.v1.History.fromObject(recorded.history as Record<string, unknown>);
    const payload = history.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const v1Input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as LeadWorkflowInput;
    expect(v1Input.state).toBeDefined();
    expect(v1Input.machine).toBeUndefined();
    const { lead, ...rest } = v1Input;
    await withLead({ ...rest, lead: { ...lead, id: `drain-${randomUUID().slice(0, 8)}` }, historyBudget: 10_000 }, async (handle, recordedActivities) => {
      const before = (await handle.query(leadStateQuery)).sequence;
      expect(before).toMatchObject({ id: 'onboarding', version: 1 });
      expect(before.step).toBeGreaterThan(0);
      await env.sleep('30 days');
      await eventually(async () => expect((await handle.query(leadStateQuery)).sequence.step).toBe(7));
      // The emails the first run had sent are not sent again (their send keys are taken in Postgres; here none repeat).
      const keys = recordedActivities.emails.map((e) => e.sendKey);
      expect(new Set(keys).size).toBe(keys.length);
      expect(recordedActivities.records.at(-1)!.revision).toBeGreaterThan(0);
    });
  });
});
