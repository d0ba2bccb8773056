import { describe, expect, it } from 'vitest';
import { fromGeneric, fromSes, suppressionFor, type GenericFeedback, type SesNotification } from '../../src/domain/deliverability.js';
import { isSnsUrl, SnsVerifier, type SnsEnvelope } from '../../src/infra/sns.js';
import { fixtureJson, signSns, SNS_TOPIC, snsEndpoint, snsNotification } from '../helpers/email-feedback.js';

/** Feedback fixtures of every notification type through the pure mapping, and SNS signatures verified offline. */

describe('feedback notifications as one shape', () => {
  it('maps the generic hard bounce, soft bounce and complaint fixtures', () => {
    const items = ['generic-hard-bounce.json', 'generic-soft-bounce.json', 'generic-complaint.json'].map((f) => fixtureJson<GenericFeedback>(f));
    const feedback = fromGeneric(items, '2026-12-01T00:00:00.000Z', 'delivery-1');
    expect(feedback.map(({ email, kind, source, at, messageId }) => ({ email, kind, source, at, messageId }))).toEqual([
      { email: 'gen-hard@example.com', kind: 'hard_bounce', source: 'generic', at: '2026-11-30T10:00:00.000Z', messageId: '<a1b2c3@mail.example.net>' },
      { email: 'gen-soft@example.com', kind: 'soft_bounce', source: 'generic', at: '2026-11-30T10:00:00.000Z', messageId: undefined },
      { email: 'gen-complaint@example.com', kind: 'complaint', source: 'generic', at: '2026-11-30T10:05:00.000Z', messageId: '<d4e5f6@mail.example.net>' },
    ]);
    // The same notification again is recognised; one without messageId or at only within its delivery.
    expect(fromGeneric(items, 'later', 'delivery-2').map((f) => f.dedupeKey)).toEqual(feedback.map((f) => f.dedupeKey));
    const bare = [{ type: 'bounce', bounceType: 'soft', email: 'X@Example.com' }] as GenericFeedback[];
    expect(fromGeneric(bare, 'now', 'd1')[0]!.dedupeKey).not.toBe(fromGeneric(bare, 'now', 'd2')[0]!.dedupeKey);
    expect(fromGeneric(bare, 'now', 'd1')[0]).toMatchObject({ email: 'x@example.com', at: 'now' });
  });

  it('maps the SES bounce (permanent, transient), complaint and delivery fixtures, one feedback per recipient', () => {
    const ses = (name: string) => fromSes(fixtureJson<SesNotification>(name));
    expect(ses('ses-bounce-permanent.json')).toEqual([
      {
        dedupeKey: 'ses|00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000|ses-hard@example.com',
        email: 'ses-hard@example.com',
        kind: 'hard_bounce',
        source: 'ses',
        at: '2016-01-27T14:59:38.237Z',
        messageId: 'custom-message-ID',
        detail: 'Permanent General 5.1.1',
      },
    ]);
    expect(ses('ses-bounce-transient.json')).toEqual([expect.objectContaining({ email: 'ses-soft@example.com', kind: 'soft_bounce', detail: 'Transient MailboxFull 4.2.2' })]);
    expect(ses('ses-bounce-transient.json')[0]).not.toHaveProperty('messageId');
    expect(ses('ses-complaint.json')).toEqual([expect.objectContaining({ email: 'ses-complaint@example.com', kind: 'complaint', detail: 'abuse' })]);
    expect(ses('ses-delivery.json')).toEqual([expect.objectContaining({ email: 'ses-soft@example.com', kind: 'delivery', at: '2016-01-27T14:59:38.237Z' })]);

    // Event publishing names the type eventType; several recipients give several; "not-spam" is no complaint; unknown types nothing.
    const permanent = fixtureJson<SesNotification>('ses-bounce-permanent.json');
    const { notificationType: _t, ...published } = permanent;
    expect(fromSes({ ...published, eventType: 'Bounce' })).toHaveLength(1);
    const two = { ...permanent, bounce: { ...permanent.bounce!, bouncedRecipients: [{ emailAddress: '"Jane" <Jane@Example.com>' }, { emailAddress: 'mary@example.com' }] } };
    expect(fromSes(two).map((f) => f.email)).toEqual(['jane@example.com', 'mary@example.com']);
    const complaint = fixtureJson<SesNotification>('ses-complaint.json');
    expect(fromSes({ ...complaint, complaint: { ...complaint.complaint!, complaintFeedbackType: 'not-spam' } })).toEqual([]);
    expect(fromSes({ ...permanent, notificationType: 'Send' })).toEqual([]);
  });

  it('suppresses on a hard bounce and a complaint at once, on soft bounces at the limit, never on a delivery', () => {
    expect(suppressionFor('hard_bounce', 0, 3)).toBe('hard_bounce');
    expect(suppressionFor('complaint', 0, 3)).toBe('complaint');
    expect(suppressionFor('soft_bounce', 2, 3)).toBeUndefined();
    expect(suppressionFor('soft_bounce', 3, 3)).toBe('soft_bounce');
    expect(suppressionFor('soft_bounce', 1, 1)).toBe('soft_bounce');
    expect(suppressionFor('delivery', 9, 3)).toBeUndefined();
  });
});

describe('SNS message signatures (offline, with the fixture certificate)', () => {
  const verifier = (topics = [SNS_TOPIC]) => new SnsVerifier({ topicArns: topics, fetchText: snsEndpoint().fetchText });
  const refusal = async (envelope: SnsEnvelope, topics?: string[]) => verifier(topics).verify(envelope).then(() => 'accepted', (e: { code: string }) => e.code);
  const notification = snsNotification(fixtureJson('ses-bounce-permanent.json'));

  it('accepts a Notification and a SubscriptionConfirmation signed with SignatureVersion 1 or 2', async () => {
    expect(await refusal(notification)).toBe('accepted');
    expect(await refusal(signSns({ ...notification, SignatureVersion: '2' }))).toBe('accepted');
    expect(await refusal(signSns(fixtureJson<SnsEnvelope>('sns-subscription-confirmation.json')))).toBe('accepted');
  });

  it('refuses a forged message, another topic, a certificate from anywhere but SNS, an unknown signature version', async () => {
    expect(await refusal({ ...notification, Message: notification.Message.replace('ses-hard', 'someone-else') })).toBe('invalid_sns_signature');
    expect(await refusal({ ...notification, Signature: notification.Signature.replace(/^.{8}/, 'AAAAAAAA') })).toBe('invalid_sns_signature');
    // Signed with SHA1 but claiming version 2: the digest differs.
    expect(await refusal({ ...notification, SignatureVersion: '2' })).toBe('invalid_sns_signature');
    expect(await refusal({ ...notification, SignatureVersion: '3' })).toBe('invalid_sns_signature');
    expect(await refusal(notification, ['arn:aws:sns:us-west-2:123456789012:OtherTopic'])).toBe('unknown_sns_topic');
    expect(await refusal(signSns({ ...notification, SigningCertURL: 'https://sns.us-west-2.amazonaws.com.evil.example/cert.pem' }))).toBe('invalid_sns_signature');
    expect(await refusal(signSns({ ...notification, SigningCertURL: 'http://sns.us-west-2.amazonaws.com/cert.pem' }))).toBe('invalid_sns_signature');
    expect(isSnsUrl('https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription')).toBe(true);
    expect(isSnsUrl('https://sns.eu-central-1.amazonaws.com:8443/x')).toBe(false);
    expect(isSnsUrl('https://evil.example/?sns.us-east-1.amazonaws.com')).toBe(false);
  });

  it('confirms a subscription by asking its SubscribeURL, on an SNS host only', async () => {
    const endpoint = snsEndpoint();
    const sns = new SnsVerifier({ topicArns: [SNS_TOPIC], fetchText: endpoint.fetchText });
    const confirmation = signSns(fixtureJson<SnsEnvelope>('sns-subscription-confirmation.json'));
    await sns.confirm(confirmation);
    expect(endpoint.asked).toEqual([confirmation.SubscribeURL]);
    await expect(sns.confirm({ ...confirmation, SubscribeURL: 'https://attacker.example/confirm' })).rejects.toMatchObject({ code: 'invalid_sns_signature' });
    expect(endpoint.asked).toHaveLength(1);
  });
});
