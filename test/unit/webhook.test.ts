import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, WebhookVerifier } from '../../src/server/webhook.js';

/** Standard Webhooks secrets: whsec_ and a base64 key; a secret without the prefix is its own bytes. */
const SECRET = `whsec_${Buffer.from('unit-test-key-0123456789abcdef').toString('base64')}`;
const OLDER = 'older-raw-secret-0123456789';
const BODY = Buffer.from('{"events":[{"leadId":"l1","eventId":"e1","type":"page.viewed"}]}');
const T = 1_800_000_000;
const ID = 'msg_unit_1';

/** The spec's signature, computed here with node:crypto alone (not the package under test). */
const independent = (key: Buffer, id: string, timestamp: number, body: Buffer) => `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;

describe('webhook signatures (Standard Webhooks)', () => {
  const verifier = new WebhookVerifier([OLDER, SECRET], 300);
  const refusal = (headers: Record<string, string | undefined>, body = BODY, now = T) => {
    try {
      verifier.verify(headers, body, now);
      return 'accepted';
    } catch (error) {
      return `${(error as { status: number }).status} ${(error as { code: string }).code}`;
    }
  };

  it('signs "<id>.<timestamp>.<body>" with HMAC-SHA256 of the base64-decoded whsec_ key, as the spec says', () => {
    expect(signWebhook(SECRET, BODY, T, ID)).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(T),
      'webhook-signature': independent(Buffer.from(SECRET.slice('whsec_'.length), 'base64'), ID, T, BODY),
    });
    expect(signWebhook(OLDER, BODY, T, ID)['webhook-signature']).toBe(independent(Buffer.from(OLDER), ID, T, BODY));
  });

  it('accepts a signature by any configured secret within the window, either side of now; one good signature of several is enough', () => {
    expect(verifier.verify(signWebhook(SECRET, BODY, T, ID), BODY, T + 300)).toEqual({ id: ID, timestamp: T });
    expect(refusal(signWebhook(OLDER, BODY, T, ID), BODY, T - 300)).toBe('accepted');
    const headers = signWebhook(SECRET, BODY, T, ID);
    expect(refusal({ ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}` })).toBe('accepted');
  });

  it('refuses missing or malformed headers, a foreign secret, a tampered body, id or timestamp with 401 invalid_signature', () => {
    const good = signWebhook(SECRET, BODY, T, ID);
    expect(refusal({})).toBe('401 invalid_signature');
    expect(refusal({ ...good, 'webhook-id': undefined })).toBe('401 invalid_signature');
    expect(refusal({ ...good, 'webhook-timestamp': 'soon' })).toBe('401 invalid_signature');
    expect(refusal({ ...good, 'webhook-signature': 'v2,abc' })).toBe('401 invalid_signature');
    expect(refusal(signWebhook('whsec_c3RyYW5nZXItMDEyMzQ1Njc4OWFiY2RlZg==', BODY, T, ID))).toBe('401 invalid_signature');
    expect(refusal(good, Buffer.from(BODY.toString().replace('page', 'pricing')))).toBe('401 invalid_signature');
    // The id and the timestamp are signed too: changing either breaks the signature.
    expect(refusal({ ...good, 'webhook-id': 'msg_other' })).toBe('401 invalid_signature');
    expect(refusal({ ...good, 'webhook-timestamp': String(T + 1) })).toBe('401 invalid_signature');
  });

  it('refuses a genuine signature outside the window with 401 stale_signature', () => {
    expect(refusal(signWebhook(SECRET, BODY, T, ID), BODY, T + 301)).toBe('401 stale_signature');
    expect(refusal(signWebhook(SECRET, BODY, T, ID), BODY, T - 301)).toBe('401 stale_signature');
  });
});
