import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities/index.js';
import { createMailer, type Mailer } from '../../src/infra/mailer.js';
import { freePort } from '../../src/infra/net.js';
import { readMailbox, startSmtpSink, type SmtpRefusal, type SmtpSink } from '../../src/infra/smtp-sink.js';
import { suppressAddress } from '../../src/infra/suppressions.js';
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

  it('retries a transient refusal (4xx) without suppressing the address', async () => {
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

    refusals.delete('busy@example.com');
    expect((await activities.sendNurtureEmail(nurture('busy', 0))).sent).toBe(true);
    expect(await readMailbox(pg.pool, { to: 'busy@example.com' })).toHaveLength(1);
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
});
