import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { installTestRuntime } from '../helpers/runtime.js';
import { createActivities } from '../../activities/index.js';
import { createMailer, type Mailer } from '../../src/infra/mailer.js';
import { freePort } from '../../src/infra/net.js';
import { readMailbox, startSmtpSink, type SmtpRefusal, type SmtpSink } from '../../src/infra/smtp-sink.js';
import { suppressAddress } from '../../src/infra/suppressions.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { programSnapshot } from '../../src/sequences/catalog.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { leadStateQuery } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// Real PostgreSQL, real nodemailer over TCP, and the real SMTP sink told to refuse chosen
// recipients with a permanent (5xx) or transient (4xx) reply, as a relay would.
let pg: TestPostgres;
let sink: SmtpSink;
let mailer: Mailer;
const refusals = new Map<string, SmtpRefusal>();
const rcptAttempts = new Map<string, number>();
const config = { mailFrom: 'Leadflow <marketing@example.com>', salesInbox: 'sales@example.com' };

beforeAll(async () => {
  pg = await startTestPostgres();
  sink = await startSmtpSink({
    pool: pg.pool,
    port: await freePort(),
    refuse: (address) => {
      rcptAttempts.set(address, (rcptAttempts.get(address) ?? 0) + 1);
      return refusals.get(address);
    },
  });
  mailer = createMailer(sink.url);
});

afterAll(async () => {
  mailer?.close();
  await sink?.stop();
  await pg?.stop();
});

const lead = (id: string) => ({ id, email: `${id}@example.com`, firstName: 'Ada' });
const nurture = (id: string, step: number) => ({ lead: lead(id), template: 'welcome', sendKey: `${id}:onboarding@v1:e1:s${step}`, sequence: 'onboarding@v1', step });
const suppression = async (email: string) => (await pg.pool.query('SELECT reason, lead_id FROM suppressions WHERE email = $1', [email])).rows[0];
const outbox = async (sendKey: string) => (await pg.pool.query('SELECT status, last_error FROM email_outbox WHERE send_key = $1', [sendKey])).rows[0];

describe('email safety', () => {
  it('suppresses an address the relay refuses permanently (5xx), without retrying, and never tries it again', async () => {
    refusals.set('hard@example.com', { code: 550, message: '5.1.1 mailbox does not exist' });
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const first = await activities.sendNurtureEmail(nurture('hard', 0));
    expect(first).toEqual({ sent: false, bounced: true, suppressed: true });
    expect(rcptAttempts.get('hard@example.com')).toBe(1);
    expect(await suppression('hard@example.com')).toEqual({ reason: 'hard_bounce', lead_id: 'hard' });
    expect(await outbox('hard:onboarding@v1:e1:s0')).toMatchObject({ status: 'bounced', last_error: expect.stringContaining('550') });

    // A rerun of the same send (the worker died after recording the bounce) and the next step
    // both stop before SMTP: the relay sees no further attempt.
    expect(await activities.sendNurtureEmail(nurture('hard', 0))).toEqual({ sent: false, bounced: true, suppressed: true });
    expect(await activities.sendNurtureEmail(nurture('hard', 2))).toEqual({ sent: false, suppressed: true });
    expect(rcptAttempts.get('hard@example.com')).toBe(1);
    expect(await readMailbox(pg.pool, { to: 'hard@example.com' })).toHaveLength(0);
  });

  it('fails an attempt the relay refuses for now (4xx) as retryable, rolled back, without suppressing the address', async () => {
    refusals.set('busy@example.com', { code: 451, message: '4.3.0 try again later' });
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const error = await activities.sendNurtureEmail(nurture('busy', 0)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ApplicationFailure); // an ordinary failure: Temporal retries it
    expect(String((error as Error).message)).toContain('451');
    // The failure message lands in Temporal's history in plain text: it must not carry the address.
    expect(String((error as Error).message)).not.toMatch(/busy@example\.com/i);
    expect(await suppression('busy@example.com')).toBeUndefined();
    expect(await outbox('busy:onboarding@v1:e1:s0')).toBeUndefined(); // the failed attempt's transaction rolled back
  });

  it('is retried by Temporal after a transient refusal (4xx): the second attempt delivers, once', { timeout: 120_000 }, async () => {
    // The lead workflow with the real activities on the time-skipping server: the relay refuses
    // the welcome email's first attempt with 451, and Temporal's retry policy (not the test) makes the next.
    installTestRuntime();
    const env = await createTimeSkippingTestEnv();
    try {
      const id = 'busy-retry';
      const address = `${id}@example.com`;
      let refused = 0;
      refusals.set(address, { code: 451, message: '4.3.0 try again later' });
      const taskQueue = `retry-${randomUUID()}`;
      const activities = createActivities({
        pool: pg.pool,
        mailer: {
          send: async (message) => {
            try {
              return await mailer.send(message);
            } finally {
              // One refusal, then the relay recovers.
              if (refusals.delete(address)) refused += 1;
            }
          },
          close: () => undefined,
        },
        config,
      });
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleWorkflows(), activities });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(leadWorkflow, {
          taskQueue,
          workflowId: `lead-${id}`,
          args: [{ lead: { id, email: address, firstName: 'Ada' }, program: programSnapshot('onboarding') }],
        });
        await eventually(async () => expect(await readMailbox(pg.pool, { to: address })).toHaveLength(1), { timeoutMs: 60_000 });
        // The history shows the retry: the send's activity started its second attempt. A retried
        // activity's started event is written when the attempt closes, just after the relay took
        // the message, so wait for it.
        const started = await eventually(async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          const sendScheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendNurtureEmail');
          const event = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(sendScheduled?.eventId));
          expect(event).toBeDefined();
          return event;
        }, { timeoutMs: 30_000 });
        await handle.terminate('test over');
        expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
      });
      expect(refused).toBe(1);
      expect(rcptAttempts.get(address)).toBe(2);
      expect(await suppression(address)).toBeUndefined();
      expect(await outbox(`${id}:onboarding@v1:e1:s0`)).toMatchObject({ status: 'sent' });
    } finally {
      await env.teardown();
    }
  });

  it('sends nothing to a lead unsubscribed while its send was retrying', async () => {
    refusals.set('leaving@example.com', { code: 421, message: '4.7.0 too many connections, slow down' });
    const activities = createActivities({ pool: pg.pool, mailer, config });
    await expect(activities.sendNurtureEmail(nurture('leaving', 0))).rejects.toThrow(/421/);
    await expect(activities.sendNurtureEmail(nurture('leaving', 0))).rejects.toThrow(/421/);
    // The lead unsubscribes (the API's unsubscribe writes this same row), and the relay recovers.
    await suppressAddress(pg.pool, 'Leaving@Example.com', 'unsubscribed', 'leaving');
    refusals.delete('leaving@example.com');
    const attemptsBefore = rcptAttempts.get('leaving@example.com');

    const retried = await activities.sendNurtureEmail(nurture('leaving', 0));
    expect(retried).toEqual({ sent: false, suppressed: true });
    expect(rcptAttempts.get('leaving@example.com')).toBe(attemptsBefore); // SMTP was not even asked
    expect(await outbox('leaving:onboarding@v1:e1:s0')).toMatchObject({ status: 'suppressed' });
    expect(await readMailbox(pg.pool, { to: 'leaving@example.com' })).toHaveLength(0);
  });

  it('records a permanently refused sales notification once and does not suppress the sales inbox', async () => {
    refusals.set('broken-inbox@example.com', { code: 550, message: '5.1.1 user unknown' });
    const activities = createActivities({ pool: pg.pool, mailer, config: { ...config, salesInbox: 'broken-inbox@example.com' } });
    const input = { lead: lead('owned'), sendKey: 'owned:sales-review:1', score: 55, reviewCount: 1, events: [] };
    expect(await activities.notifySales(input)).toEqual({ sent: false, bounced: true });
    expect(await suppression('broken-inbox@example.com')).toBeUndefined(); // suppression is for marketing email
    expect(await outbox('owned:sales-review:1')).toMatchObject({ status: 'bounced' });
    expect(await activities.notifySales(input)).toEqual({ sent: false, bounced: true });
    expect(rcptAttempts.get('broken-inbox@example.com')).toBe(1);
  });

  it('counts a marketing email the relay answers 4xx on its last allowed attempt as a soft bounce, once: not sent, not retried, no duplicate', async () => {
    refusals.set('full@example.com', { code: 452, message: '4.2.2 mailbox full' });
    // Outside Temporal every call is attempt 1: with one attempt allowed, the first 4xx is the last.
    const activities = createActivities({ pool: pg.pool, mailer, config: { ...config, smtpTransientAttempts: 1, softBounceLimit: 3 } });
    expect(await activities.sendNurtureEmail(nurture('full', 0))).toEqual({ sent: false, softBounced: true });
    expect(await outbox('full:onboarding@v1:e1:s0')).toMatchObject({ status: 'soft_bounced', last_error: expect.stringContaining('452') });
    const feedback = await pg.pool.query('SELECT email, kind, source, send_key, lead_id FROM email_feedback WHERE email = $1', ['full@example.com']);
    expect(feedback.rows).toEqual([{ email: 'full@example.com', kind: 'soft_bounce', source: 'smtp', send_key: 'full:onboarding@v1:e1:s0', lead_id: 'full' }]);
    // A rerun of that send (a crash before its answer reached Temporal) neither sends nor counts again.
    refusals.delete('full@example.com');
    expect(await activities.sendNurtureEmail(nurture('full', 0))).toEqual({ sent: false, softBounced: true });
    expect(rcptAttempts.get('full@example.com')).toBe(1);
    expect((await pg.pool.query('SELECT count(*)::int AS n FROM email_feedback WHERE email = $1', ['full@example.com'])).rows[0].n).toBe(1);
    expect(await suppression('full@example.com')).toBeUndefined();
    expect(await readMailbox(pg.pool, { to: 'full@example.com' })).toHaveLength(0);
    // A sales notification is not marketing: its 4xx is retried as long as Temporal retries.
    refusals.set('sales-full@example.com', { code: 452, message: '4.2.2 mailbox full' });
    const sales = createActivities({ pool: pg.pool, mailer, config: { ...config, salesInbox: 'sales-full@example.com', smtpTransientAttempts: 1 } });
    await expect(sales.notifySales({ lead: lead('owned-2'), sendKey: 'owned-2:sales-review:1', score: 55, reviewCount: 1, events: [] })).rejects.toThrow(/452/);
  });

  it('retries a 4xx answer SMTP_TRANSIENT_ATTEMPTS times through Temporal, then counts the soft bounce; at SOFT_BOUNCE_LIMIT the address is suppressed and the sequence moves on', { timeout: 120_000 }, async () => {
    installTestRuntime();
    const env = await createTimeSkippingTestEnv();
    try {
      const id = 'greylisted';
      const address = `${id}@example.com`;
      refusals.set(address, { code: 451, message: '4.7.1 greylisted, try again later' });
      const taskQueue = `soft-${randomUUID()}`;
      const activities = createActivities({ pool: pg.pool, mailer, config: { ...config, smtpTransientAttempts: 3, softBounceLimit: 1 } });
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleWorkflows(), activities });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(leadWorkflow, {
          taskQueue,
          workflowId: `lead-${id}`,
          args: [{ lead: { id, email: address, firstName: 'Ada' }, program: programSnapshot('onboarding') }],
        });
        await eventually(async () => expect(await outbox(`${id}:onboarding@v1:e1:s0`)).toMatchObject({ status: 'soft_bounced' }), { timeoutMs: 60_000 });
        const state = await eventually(async () => {
          const view = await handle.query(leadStateQuery);
          expect(view.sequence.step).toBeGreaterThan(0);
          return view;
        }, { timeoutMs: 30_000 });
        expect(state.timeline.map((e) => e.text)).toContainEqual(expect.stringContaining('a soft bounce'));
        const events = (await handle.fetchHistory()).events ?? [];
        const send = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendNurtureEmail');
        const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(send?.eventId));
        expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(3);
        await handle.terminate('test over');
      });
      expect(rcptAttempts.get(address)).toBe(3);
      expect(await suppression(address)).toEqual({ reason: 'soft_bounce', lead_id: id });
      expect(await readMailbox(pg.pool, { to: address })).toHaveLength(0);
    } finally {
      refusals.delete('greylisted@example.com');
      await env.teardown();
    }
  });
});
