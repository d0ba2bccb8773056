import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { LeadProfile } from '../../src/domain/lead.js';
import { defaultProgram, programSnapshot, sequences } from '../../src/sequences/catalog.js';
import { SequenceSchema, type Program, type ProgramSnapshot, type Sequence, type SequenceDefinition } from '../../src/sequences/model.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { engagementSignal, leadStateQuery, migrateSequenceSignal } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

/** Every step kind, send windows, the frequency cap, decay and sequence versions, on the time-skipping server. */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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

/** The default program, window open around the clock (tests of windows set their own). */
const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
const sequence = (definition: SequenceDefinition): Sequence => SequenceSchema.parse(definition);
const snapshot = (enrol: Sequence, program: Program = anyHour, extra: Sequence[] = []): ProgramSnapshot => ({ ...program, enrolSequence: enrol, ...(extra.length ? { sequences: extra } : {}) });

type Handle = WorkflowHandle<typeof leadWorkflow>;
interface Ctx {
  handle: Handle;
  recorded: ReturnType<typeof recordingActivities>;
  startedAt: number;
  sent: () => Array<[string, number]>;
}

/** Runs one lead (optionally more) on its own task queue with recording activities. */
async function withLead(program: ProgramSnapshot, body: (ctx: Ctx) => Promise<void>, lead: Partial<LeadProfile> = {}): Promise<void> {
  const taskQueue = `seq-${randomUUID()}`;
  const recorded = recordingActivities();
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: recorded.activities });
  const leadId = `S-${randomUUID().slice(0, 8)}`;
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(leadWorkflow, {
      taskQueue,
      workflowId: `lead-${leadId}`,
      args: [{ lead: { id: leadId, email: `${leadId.toLowerCase()}@example.com`, firstName: 'Ada', ...lead }, program }],
    });
    const startedAt = (await handle.describe()).startTime.getTime();
    const sent = () => recorded.emails.filter((e) => e.kind === 'nurture').map((e): [string, number] => [e.template, Math.round(((e.at - startedAt) / DAY) * 100) / 100]);
    await body({ handle, recorded, startedAt, sent });
  });
  expect(recorded.repeatedSendKeys(), 'send keys the workflow asked for more than once').toEqual([]);
}

let n = 0;
const signal = async (handle: Handle, ...types: string[]) => {
  for (const type of types) await handle.signal(engagementSignal, { eventId: `s-${++n}`, type, occurredAt: new Date(0).toISOString() });
};
const state = (handle: Handle) => handle.query(leadStateQuery);

describe('step kinds (time-skipping)', () => {
  it('waitFor: the event came → goes to the `then` label at once; exit holds back when the score is low', async () => {
    await withLead(programSnapshot('webinar-invite', anyHour), async ({ handle, sent }) => {
      await eventually(() => expect(sent()).toEqual([['webinar-invite', 0]]));
      await env.sleep('1 day');
      await signal(handle, 'email.clicked');
      await eventually(() => expect(sent().map((s) => s[0])).toEqual(['webinar-invite', 'webinar-deep-dive']));
      expect(sent()[1]![1]).toBeCloseTo(1, 1);
      // Score 3 < 30: the exit step lets the lead go on to the pricing guide two days later.
      await env.sleep('3 days');
      await eventually(() => expect(sent().map((s) => s[0])).toEqual(['webinar-invite', 'webinar-deep-dive', 'pricing-guide']));
      expect(sent()[2]![1]).toBeCloseTo(3, 1);
      const { timeline } = await state(handle);
      expect(timeline.map((t) => t.text)).toContain('webinar-invite@v1 step 1: email.clicked or webinar.viewed came → engaged');
    });
  });

  it('waitFor: the timeout passed → the `else` branch; goto another sequence runs it from its start', async () => {
    await withLead(programSnapshot('webinar-invite', anyHour), async ({ handle, sent }) => {
      await env.sleep('10 days');
      await eventually(() =>
        expect(sent()).toEqual([
          ['webinar-invite', 0],
          ['webinar-reminder', 3],
          ['welcome', 7],
          ['customer-stories', 9],
        ]),
      );
      expect((await state(handle)).sequence).toMatchObject({ id: 'onboarding', version: 1, step: 3 });
    });
  });

  it('exit: ends the sequence when the score is high enough, or when a given event was seen', async () => {
    await withLead(programSnapshot('webinar-invite', anyHour), async ({ handle, sent }) => {
      await eventually(() => expect(sent()).toHaveLength(1));
      await signal(handle, 'webinar.viewed', 'product.compared', 'pricing.viewed'); // 35 points
      await eventually(() => expect(sent().map((s) => s[0])).toEqual(['webinar-invite', 'webinar-deep-dive']));
      await env.sleep('10 days');
      expect(sent().map((s) => s[0])).toEqual(['webinar-invite', 'webinar-deep-dive']);
      const s = await state(handle);
      expect(s).toMatchObject({ stage: 'nurturing', score: 35, sequence: { id: 'webinar-invite', step: sequences['webinar-invite']!.steps.length } });
      expect(s.nextActionAt).toBeNull();
      expect(s.timeline.map((t) => t.text)).toContain('webinar-invite@v1 exits at step 7 (score 35 ≥ 30)');
    });

    const formSeen = sequence({
      id: 'exit-on-form',
      version: 1,
      description: 'test',
      steps: [
        { kind: 'email', template: 'welcome' },
        { kind: 'wait', duration: '1 day' },
        { kind: 'exit', when: { eventSeen: 'form.submitted' } },
        { kind: 'email', template: 'customer-stories' },
      ],
    });
    await withLead(snapshot(formSeen), async ({ handle, sent }) => {
      await signal(handle, 'form.submitted');
      await env.sleep('3 days');
      expect(sent().map((s) => s[0])).toEqual(['welcome']);
      expect((await state(handle)).sequence.step).toBe(4);
    });
    await withLead(snapshot(formSeen), async ({ sent }) => {
      await env.sleep('3 days');
      await eventually(() => expect(sent().map((s) => s[0])).toEqual(['welcome', 'customer-stories']));
    });
  });

  it('goto a label loops, each round with its own send key; the frequency cap spaces the emails', async () => {
    const loop = sequence({
      id: 'every-other-day',
      version: 1,
      description: 'test',
      steps: [
        { label: 'again', kind: 'email', template: 'product-tour' },
        { kind: 'wait', duration: '2 days' },
        { kind: 'goto', to: 'again' },
      ],
    });
    await withLead(snapshot(loop), async ({ handle, recorded, sent }) => {
      await env.sleep('15 days');
      // 3 per rolling 7 days: days 0, 2, 4, then the 4th waits for day 0 to age out (day 7), ...
      await eventually(() => expect(sent().map((s) => s[1])).toEqual([0, 2, 4, 7, 9, 11, 14]));
      const keys = recorded.emails.map((e) => e.sendKey.split(':').slice(-2).join(':'));
      expect(new Set(keys).size).toBe(7);
      expect(recorded.callCounts().sendNurtureEmail).toBe(7);
      expect(keys.slice(0, 3)).toEqual(['e1:s0', 's0:l1', 's0:l2']);
      const s = await state(handle);
      expect(s.delivery).toMatchObject({ frequencyCap: { max: 3, per: '7 days' } });
      expect(s.delivery!.frequencyCap!.sentInWindow).toBeLessThanOrEqual(3);
    });
  });
});

describe('a loop without a wait (which the check refuses) at run time', () => {
  it('is stopped by the lead after 20 steps, with a line in its timeline, instead of spinning', async () => {
    const spin = sequence({
      id: 'spin',
      version: 1,
      description: 'test',
      steps: [
        { kind: 'email', template: 'welcome' },
        { label: 'top', kind: 'exit', when: { scoreAtLeast: 45 } },
        { kind: 'goto', to: 'top' },
      ],
    });
    await withLead(snapshot(spin), async ({ handle, sent }) => {
      await eventually(async () => expect((await state(handle)).timeline.map((t) => t.text)).toContain('spin@v1 stopped at step 2: 20 steps without a wait'));
      expect(sent().map((s) => s[0])).toEqual(['welcome']);
      expect((await state(handle)).sequence.step).toBe(3);
    });
  });
});

describe('send windows (time-skipping)', () => {
  const windowProgram = (start: string, end: string): Program => ({
    ...defaultProgram,
    delivery: { ...defaultProgram.delivery!, sendWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start, end, defaultTimezone: 'UTC' } },
  });
  const twoEmails = (wait: string) =>
    sequence({
      id: 'two-emails',
      version: 1,
      description: 'test',
      steps: [
        { kind: 'email', template: 'welcome' },
        { kind: 'wait', duration: wait },
        { kind: 'email', template: 'customer-stories' },
      ],
    });
  const localHour = (at: number, timeZone: string) => Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(at));

  /** The first instant at or after `from` when a fixed-offset zone (no DST) shows 09:00-10:00. */
  const expectedNineOClock = (from: number, offsetMinutes: number) => {
    const local = from + offsetMinutes * 60_000;
    const dayStart = Math.floor(local / DAY) * DAY;
    const opening = dayStart + 9 * HOUR;
    const localAt = local < opening ? opening : local < opening + HOUR ? local : opening + DAY;
    return localAt - offsetMinutes * 60_000;
  };

  for (const [timeZone, offset] of [
    ['Asia/Tokyo', 9 * 60],
    ['Asia/Kolkata', 5 * 60 + 30],
  ] as const) {
    it(`sends the first email at once, later ones in the lead's window (${timeZone}, 09:00-10:00 local)`, async () => {
      await withLead(
        snapshot(twoEmails('1 hour'), windowProgram('09:00', '10:00')),
        async ({ handle, recorded, startedAt }) => {
          await eventually(() => expect(recorded.emails).toHaveLength(1));
          expect(recorded.emails[0]!.at - startedAt).toBeLessThan(60_000);
          const expected = expectedNineOClock(startedAt + HOUR, offset);
          if (expected > startedAt + HOUR + 120_000) {
            // Just past the wait: the email waits for the window, and the lead says until when.
            await env.sleep(startedAt + HOUR + 60_000 - (await env.currentTimeMs()));
            await eventually(async () => expect((await state(handle)).delivery?.nextSendAt).toBe(new Date(expected).toISOString()));
            expect((await state(handle)).delivery).toMatchObject({ timezone: timeZone, sendWindow: { start: '09:00', end: '10:00' } });
          }
          await env.sleep('2 days');
          await eventually(() => expect(recorded.emails).toHaveLength(2));
          const second = recorded.emails[1]!.at;
          expect(Math.abs(second - expected)).toBeLessThan(5_000);
          expect(localHour(second, timeZone)).toBe(9);
        },
        { timezone: timeZone },
      );
    });
  }

  it('opens the window at 08:00 local on the day daylight saving starts (America/New_York)', async () => {
    // The next second Sunday of March (US DST start): the wait ends at 22:00 EST the evening
    // before, the window opens at 08:00 EDT = 12:00 UTC (not 13:00, as the winter offset would say).
    const now = await env.currentTimeMs();
    const year = new Date(now).getUTCMonth() < 2 ? new Date(now).getUTCFullYear() : new Date(now).getUTCFullYear() + 1;
    const marchFirst = new Date(Date.UTC(year, 2, 1)).getUTCDay();
    const dstSunday = 1 + ((7 - marchFirst) % 7) + 7;
    const saturdayEvening = Date.UTC(year, 2, dstSunday, 3, 0); // 22:00 EST on Saturday
    const expected = Date.UTC(year, 2, dstSunday, 12, 0);
    await withLead(
      snapshot(twoEmails(`${saturdayEvening - now} ms`), windowProgram('08:00', '20:00')),
      async ({ recorded, startedAt }) => {
        expect(startedAt - now).toBeLessThan(60_000);
        await env.sleep(saturdayEvening - now + 2 * DAY);
        await eventually(() => expect(recorded.emails).toHaveLength(2));
        expect(Math.abs(recorded.emails[1]!.at - expected)).toBeLessThan(120_000);
        expect(localHour(recorded.emails[1]!.at, 'America/New_York')).toBe(8);
      },
      { timezone: 'America/New_York' },
    );
  });
});

describe('score decay (time-skipping)', () => {
  it('stops counting points older than the decay age; the threshold compares the decayed score', async () => {
    const program: Program = { ...anyHour, decay: { after: '30 days' } };
    await withLead(snapshot(sequences.onboarding!, program), async ({ handle }) => {
      await signal(handle, 'product.compared', 'product.compared'); // 40
      await eventually(async () => expect((await state(handle)).score).toBe(40));
      await env.sleep('31 days');
      const decayed = await state(handle);
      expect(decayed).toMatchObject({ score: 0, scoreBreakdown: [], delivery: { decayAfter: '30 days' } });
      // 40 old points + 10 new would cross 50 without decay: here it is 10, still nurturing.
      await signal(handle, 'pricing.viewed');
      await eventually(async () => expect(await state(handle)).toMatchObject({ score: 10, stage: 'nurturing' }));
      await signal(handle, 'product.compared', 'product.compared');
      await eventually(async () => expect(await state(handle)).toMatchObject({ score: 50, stage: 'sales_review' }));
    });
  });
});

describe('sequence versions (time-skipping)', () => {
  const v1 = sequence({
    id: 'versioned',
    version: 1,
    description: 'test',
    steps: [
      { kind: 'email', template: 'welcome' },
      { label: 'pause', kind: 'wait', duration: '2 days' },
      { kind: 'email', template: 'customer-stories' },
      { kind: 'wait', duration: '2 days' },
      { kind: 'email', template: 'product-tour' },
    ],
  });
  const v2 = sequence({
    ...v1,
    version: 2,
    steps: [
      { kind: 'email', template: 'welcome' },
      { label: 'pause', kind: 'wait', duration: '2 days' },
      { kind: 'email', template: 'pricing-guide' },
    ],
  });

  it('a lead mid-way finishes the version it was enrolled with while new leads get the new one', async () => {
    await withLead(snapshot(v1), async ({ handle, sent }) => {
      await env.sleep('3 days');
      // Marketing ships v2 now: a new enrolment gets it...
      await withLead(snapshot(v2), async (newLead) => {
        await env.sleep('5 days');
        await eventually(() => expect(newLead.sent().map((s) => s[0])).toEqual(['welcome', 'pricing-guide']));
        expect((await state(newLead.handle)).sequence).toMatchObject({ id: 'versioned', version: 2 });
      });
      // ...and the lead mid-way finished v1 untouched.
      await eventually(() => expect(sent()).toEqual([['welcome', 0], ['customer-stories', 2], ['product-tour', 4]]));
      expect((await state(handle)).sequence).toMatchObject({ id: 'versioned', version: 1, step: 5 });
    });
  });

  it('migrateSequence leaves a lead on its pinned version when its step has no counterpart in the new one', async () => {
    const v3 = sequence({ ...v1, version: 3, steps: [{ kind: 'email', template: 'welcome' }, { kind: 'email', template: 'pricing-guide' }] });
    await withLead(snapshot(v1), async ({ handle, sent }) => {
      await eventually(() => expect(sent()).toHaveLength(1));
      await env.sleep('1 day');
      await handle.signal(migrateSequenceSignal, { sequence: v3 });
      await env.sleep('4 days');
      await eventually(() => expect(sent()).toEqual([['welcome', 0], ['customer-stories', 2], ['product-tour', 4]]));
      const s = await state(handle);
      expect(s.sequence).toMatchObject({ version: 1 });
      expect(s.timeline.map((t) => t.text)).toContain('migration to versioned@v3 not applied: step 1 has no counterpart in it; the lead finishes versioned@v1');
    });
  });

  it('migrateSequence moves an in-flight lead to the new version at its next wait', async () => {
    await withLead(snapshot(v1), async ({ handle, sent }) => {
      await eventually(() => expect(sent()).toHaveLength(1));
      await env.sleep('1 day');
      await handle.signal(migrateSequenceSignal, { sequence: v2 });
      await env.sleep('3 days');
      // Migrated during the labelled wait: keeps its deadline (day 2), then v2's next email.
      await eventually(() => expect(sent()).toEqual([['welcome', 0], ['pricing-guide', 2]]));
      const s = await state(handle);
      expect(s.sequence).toMatchObject({ id: 'versioned', version: 2, step: 3 });
      expect(s.timeline.map((t) => t.text)).toContain('migrated from versioned@v1 to versioned@v2 at step 1');
      // An older version is ignored.
      await handle.signal(migrateSequenceSignal, { sequence: v1 });
      await eventually(async () => expect((await state(handle)).timeline.at(-1)!.text).toBe('migration to versioned@v1 ignored: the lead runs versioned@v2'));
    });
  });
});
