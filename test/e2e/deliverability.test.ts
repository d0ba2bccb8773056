import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SesNotification } from '../../src/domain/deliverability.js';
import type { SnsEnvelope } from '../../src/infra/sns.js';
import { signWebhook } from '../../src/server/webhook.js';
import { fixture, fixtureJson, signSns, SNS_TOPIC, snsEndpoint, snsNotification } from '../helpers/email-feedback.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type Answer, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * Deliverability and honest engagement on the whole stack: bounce, complaint and delivery
 * notifications through POST /v1/webhooks/email-feedback (the generic shape signed with a
 * WEBHOOK_SECRETS secret; Amazon SES through SNS, signed with the fixture certificate), what they
 * do to the suppression list, the lead and the funnel; and opens and clicks through the real
 * tracking routes that the engagement filter records without scoring.
 */
const SECRET = 'whsec-feedback-0123456789';
const sns = snsEndpoint();
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack(
    { TRACKING_SECRET: 'e2e-tracking-secret-0123', WEBHOOK_SECRETS: SECRET, EMAIL_FEEDBACK_SNS_TOPICS: SNS_TOPIC, SOFT_BOUNCE_LIMIT: '3' },
    { snsFetch: sns.fetchText },
  );
});
afterAll(async () => {
  await t?.stop();
});

const FEEDBACK = '/v1/webhooks/email-feedback';
let signedAt = Math.floor(Date.now() / 1000) - 200;
/** Signs each delivery with a timestamp of its own (the same body signed twice in one second would be the same delivery: a replay). */
const signed = (rawBody: string, secret = SECRET) => t.call('POST', FEEDBACK, { role: null, rawBody, headers: signWebhook(secret, rawBody, ++signedAt) });
/** As SNS posts: text/plain, the message type in a header, no signature of ours. */
async function viaSns(envelope: SnsEnvelope): Promise<Answer> {
  const response = await fetch(`${t.stack.apiUrl}${FEEDBACK}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': envelope.Type },
    body: JSON.stringify(envelope),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}
const lead = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body;
const deliverability = async (id: string) => (await lead(id)).deliverability;
const suppressions = async () => (await t.stack.pool.query<{ email: string; reason: string }>('SELECT email, reason FROM suppressions ORDER BY email')).rows;
async function enrol(id: string, sequence = 'onboarding'): Promise<void> {
  const created = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, sequence, timezone: noonZone() } });
  expect(created.status).toBe(201);
}

describe('POST /v1/webhooks/email-feedback, the generic shape', () => {
  it('suppresses on a signed hard bounce and complaint, counts a soft bounce; a forged one is refused with 401 and changes nothing', async () => {
    for (const id of ['gen-hard', 'gen-soft', 'gen-complaint']) await enrol(id);
    const hard = fixture('generic-hard-bounce.json');
    const before = await suppressions();

    const forged = await signed(hard, 'whsec-not-ours-0123456789');
    expect([forged.status, forged.body.error]).toEqual([401, 'invalid_signature']);
    const tampered = await t.call('POST', FEEDBACK, { role: null, rawBody: hard.replace('hard', 'soft'), headers: signWebhook(SECRET, hard) });
    expect([tampered.status, tampered.body.error]).toEqual([401, 'invalid_signature']);
    const unsigned = await t.call('POST', FEEDBACK, { role: null, rawBody: hard });
    expect(unsigned.status).toBe(401);
    expect(await suppressions()).toEqual(before);
    expect(await deliverability('gen-hard')).toMatchObject({ suppressed: null, hardBounces: 0 });

    expect(await signed(hard)).toMatchObject({ status: 202, body: { received: 1, recorded: 1, duplicates: 0, suppressed: 1 } });
    expect(await signed(fixture('generic-soft-bounce.json'))).toMatchObject({ status: 202, body: { received: 1, recorded: 1, suppressed: 0 } });
    expect(await signed(fixture('generic-complaint.json'))).toMatchObject({ status: 202, body: { received: 1, recorded: 1, suppressed: 1 } });
    // The same notification again, signed anew: a duplicate, nothing changes.
    expect(await signed(hard)).toMatchObject({ status: 202, body: { recorded: 0, duplicates: 1 } });
    // The same signed delivery twice: a replay.
    const raw = fixture('generic-complaint.json');
    const header = signWebhook(SECRET, `${raw} `);
    expect((await t.call('POST', FEEDBACK, { role: null, rawBody: `${raw} `, headers: header })).status).toBe(202);
    expect((await t.call('POST', FEEDBACK, { role: null, rawBody: `${raw} `, headers: header })).body.error).toBe('replayed_signature');
    // Validated like any body: a bounce without its type.
    const invalid = await signed(JSON.stringify({ type: 'bounce', email: 'gen-hard@example.com' }));
    expect([invalid.status, invalid.body.error]).toEqual([400, 'validation_failed']);

    expect(await deliverability('gen-hard')).toEqual({ suppressed: 'hard_bounce', hardBounces: 1, softBounces: 0, softBouncesInRow: 0, complaints: 0, deliveries: 0 });
    expect(await deliverability('gen-soft')).toMatchObject({ suppressed: null, softBounces: 1, softBouncesInRow: 1 });
    expect(await deliverability('gen-complaint')).toMatchObject({ suppressed: 'complaint', complaints: 1 });
    const history = (await lead('gen-hard')).history.filter((h: { kind: string }) => h.kind === 'feedback');
    expect(history).toEqual([expect.objectContaining({ at: '2026-11-30T10:00:00.000Z', summary: 'hard bounce (generic)', data: expect.objectContaining({ kind: 'hard_bounce', source: 'generic' }) })]);

    const funnel = (await t.call('GET', '/v1/funnel', { role: 'marketing' })).body;
    expect(funnel).toMatchObject({ hardBounced: expect.any(Number), softBounced: expect.any(Number), complained: expect.any(Number) });
    expect(funnel.hardBounced).toBeGreaterThanOrEqual(1);
    expect(funnel.softBounced).toBeGreaterThanOrEqual(1);
    expect(funnel.complained).toBeGreaterThanOrEqual(1);
  });

  it('ties a notification that names our Message-ID to that email: the lead shows it under the email it is about', async () => {
    await enrol('gen-msgid');
    const welcome = await eventually(async () => {
      const [first] = (await t.call('GET', '/v1/dev/mailbox?to=gen-msgid%40example.com')).body.messages as Array<{ messageId: string }>;
      expect(first?.messageId).toMatch(/^<[0-9a-f]{40}@leadflow>$/);
      return first!;
    });
    // Providers often quote the Message-ID without its angle brackets.
    const body = JSON.stringify({ type: 'bounce', bounceType: 'hard', email: 'gen-msgid@example.com', messageId: welcome.messageId.slice(1, -1) });
    expect((await signed(body)).body).toMatchObject({ recorded: 1, suppressed: 1 });
    const detail = await lead('gen-msgid');
    expect(detail.emails).toEqual([expect.objectContaining({ template: 'welcome', status: 'sent', feedback: [expect.objectContaining({ kind: 'hard_bounce', source: 'generic' })] })]);
    expect(detail.history.find((h: { kind: string }) => h.kind === 'feedback').data.sendKey).toMatch(/^gen-msgid:/);
  });

  it('suppresses after SOFT_BOUNCE_LIMIT soft bounces in a row; a delivery in between starts the count again', async () => {
    await enrol('soft-run');
    const email = 'soft-run@example.com';
    const soft = (minute: number) => signed(JSON.stringify({ type: 'bounce', bounceType: 'soft', email, at: `2026-11-30T10:${String(minute).padStart(2, '0')}:00.000Z` }));
    await soft(1);
    await soft(2);
    expect(await deliverability('soft-run')).toMatchObject({ suppressed: null, softBounces: 2, softBouncesInRow: 2 });
    expect((await signed(JSON.stringify({ type: 'delivery', email, at: '2026-11-30T10:03:00.000Z' }))).body).toMatchObject({ recorded: 1, suppressed: 0 });
    await soft(4);
    await soft(5);
    expect(await deliverability('soft-run')).toMatchObject({ suppressed: null, softBounces: 4, softBouncesInRow: 2, deliveries: 1 });
    expect((await soft(6)).body).toMatchObject({ recorded: 1, suppressed: 1 });
    expect(await deliverability('soft-run')).toMatchObject({ suppressed: 'soft_bounce', softBouncesInRow: 3 });
  });
});

describe('POST /v1/webhooks/email-feedback, Amazon SES through SNS', () => {
  it('takes the SES bounce (permanent, transient), complaint and delivery fixtures; refuses forged ones and other topics with 401, changing nothing', async () => {
    for (const id of ['ses-hard', 'ses-soft', 'ses-complaint']) await enrol(id);
    const permanent = fixtureJson<SesNotification>('ses-bounce-permanent.json');
    const genuine = snsNotification(permanent);
    const before = await suppressions();

    const forged = await viaSns({ ...genuine, Message: genuine.Message.replace('ses-hard@', 'ses-soft@') });
    expect([forged.status, forged.body.error]).toEqual([401, 'invalid_sns_signature']);
    const otherTopic = await viaSns(snsNotification(permanent, { TopicArn: 'arn:aws:sns:us-west-2:999999999999:NotOurs' }));
    expect([otherTopic.status, otherTopic.body.error]).toEqual([401, 'unknown_sns_topic']);
    const elsewhere = await viaSns(signSns({ ...genuine, SigningCertURL: 'https://certs.example.com/SimpleNotificationService.pem' }));
    expect([elsewhere.status, elsewhere.body.error]).toEqual([401, 'invalid_sns_signature']);
    expect(await suppressions()).toEqual(before);

    expect(await viaSns(genuine)).toMatchObject({ status: 202, body: { received: 1, recorded: 1, suppressed: 1 } });
    // SNS retries a delivery it did not see answered: the same MessageId again changes nothing.
    expect(await viaSns(genuine)).toMatchObject({ status: 202, body: { recorded: 0, duplicates: 1 } });
    expect(await viaSns(snsNotification(fixtureJson('ses-bounce-transient.json'), { MessageId: 'm-transient', SignatureVersion: '2' }))).toMatchObject({ status: 202, body: { recorded: 1, suppressed: 0 } });
    expect(await viaSns(snsNotification(fixtureJson('ses-complaint.json'), { MessageId: 'm-complaint' }))).toMatchObject({ status: 202, body: { recorded: 1, suppressed: 1 } });
    expect(await deliverability('ses-soft')).toMatchObject({ suppressed: null, softBouncesInRow: 1 });
    expect(await viaSns(snsNotification(fixtureJson('ses-delivery.json'), { MessageId: 'm-delivery' }))).toMatchObject({ status: 202, body: { recorded: 1, suppressed: 0 } });

    expect(await deliverability('ses-hard')).toMatchObject({ suppressed: 'hard_bounce', hardBounces: 1 });
    expect(await deliverability('ses-complaint')).toMatchObject({ suppressed: 'complaint', complaints: 1 });
    expect(await deliverability('ses-soft')).toMatchObject({ suppressed: null, softBounces: 1, softBouncesInRow: 0, deliveries: 1 });
    const notJson = await viaSns(snsNotification('not an SES notification', { MessageId: 'm-text' }));
    expect([notJson.status, notJson.body.error]).toEqual([400, 'invalid_notification']);
  });

  it('confirms an SNS subscription by asking its SubscribeURL; a forged confirmation asks nothing', async () => {
    const confirmation = signSns(fixtureJson<SnsEnvelope>('sns-subscription-confirmation.json'));
    const forged = await viaSns({ ...confirmation, SubscribeURL: `${confirmation.SubscribeURL}x` });
    expect([forged.status, forged.body.error]).toEqual([401, 'invalid_sns_signature']);
    expect(sns.asked.filter((url) => url.includes('ConfirmSubscription'))).toEqual([]);
    expect(await viaSns(confirmation)).toMatchObject({ status: 202, body: { confirmed: true } });
    expect(sns.asked.filter((url) => url.includes('ConfirmSubscription'))).toEqual([confirmation.SubscribeURL]);
  });
});

describe('honest engagement through the real tracking routes', () => {
  interface Mail {
    html: string;
  }
  const hrefs = (html: string) => [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  const get = (url: string, userAgent: string) => fetch(url, { redirect: 'manual', headers: { 'user-agent': userAgent } });
  const SAFARI = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
  // A scanner posing as a browser: only its timing gives it away.
  const SCANNER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

  it('records a proxy open and a click on delivery without scoring them, says why; the person’s open and later click score', async () => {
    await enrol('honest', 'webinar-invite');
    const email = await eventually(async () => {
      const [first] = (await t.call('GET', '/v1/dev/mailbox?to=honest%40example.com')).body.messages as Mail[];
      expect(first).toBeDefined();
      return first!;
    });
    const links = hrefs(email.html);
    const pixel = links.find((l) => l.includes('/v1/t/honest/open?'))!;
    const click = links.find((l) => l.includes('/v1/t/honest/click?'))!;

    // Gmail's proxy fetches the pixel; a scanner follows the link as the email arrives.
    expect((await get(pixel, 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)')).status).toBe(200);
    expect((await get(click, SCANNER)).status).toBe(302);
    await eventually(async () => expect((await lead('honest')).timeline.filter((e: { kind: string }) => e.kind === 'filtered')).toHaveLength(2));
    const filtered = await lead('honest');
    expect(filtered.score).toBe(0);
    expect(filtered.timeline.filter((e: { kind: string }) => e.kind === 'filtered').map((e: { text: string }) => e.text)).toEqual([
      "email.opened recorded, not scored: fetched by Gmail's image proxy (its user agent), not opened by a person",
      expect.stringMatching(/^email\.clicked recorded, not scored: clicked \d s after delivery/),
    ]);
    // Recorded all the same, with the facts the rule read.
    const events = filtered.history.filter((h: { kind: string }) => h.kind === 'event');
    expect(events.map((e: { data: { properties: Record<string, unknown> } }) => e.data.properties)).toEqual([
      expect.objectContaining({ userAgent: expect.stringContaining('GoogleImageProxy'), ip: expect.any(String), deliveredAt: expect.any(String) }),
      expect.objectContaining({ userAgent: SCANNER, links: 1, url: 'https://leadflow.example.com/webinar' }),
    ]);

    // The person opens it, and clicks an hour after delivery (the send is dated back an hour).
    await t.stack.pool.query(`UPDATE email_outbox SET sent_at = sent_at - interval '1 hour' WHERE lead_id = 'honest'`);
    expect((await get(pixel, SAFARI)).status).toBe(200);
    expect((await get(click, SAFARI)).status).toBe(302);
    await eventually(async () => expect((await lead('honest')).score).toBe(1 + 3));
    expect((await lead('honest')).history.filter((h: { kind: string }) => h.kind === 'event')).toHaveLength(4);
  });
});
