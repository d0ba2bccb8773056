import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, WebhookVerifier } from '../../src/server/webhook.js';

const SECRET = 'whsec-unit-0123456789';
const BODY = Buffer.from('{"events":[{"leadId":"l1","eventId":"e1","type":"page.viewed"}]}');
const T = 1_800_000_000;

describe('webhook signatures', () => {
  const verifier = new WebhookVerifier(['whsec-older-0123456789', SECRET], 300);
  const refusal = (header: string | undefined, body = BODY, now = T) => {
    try {
      verifier.verify(header, body, now);
      return 'accepted';
    } catch (error) {
      return `${(error as { status: number }).status} ${(error as { code: string }).code}`;
    }
  };

  it('signs "t.body" with HMAC-SHA256 as Stripe-like header values', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY.toString()}`).digest('hex');
    expect(signWebhook(SECRET, BODY, T)).toBe(`t=${T},v1=${expected}`);
  });

  it('accepts a signature by any configured secret within the window, either side of now', () => {
    expect(verifier.verify(signWebhook(SECRET, BODY, T), BODY, T + 300)).toEqual({ signature: signWebhook(SECRET, BODY, T).split('v1=')[1], timestamp: T });
    expect(refusal(signWebhook('whsec-older-0123456789', BODY, T), BODY, T - 300)).toBe('accepted');
    expect(refusal(`v1=${'f'.repeat(64)}, ${signWebhook(SECRET, BODY, T).replace(',', ', ')}`)).toBe('accepted');
  });

  it('refuses a missing, malformed, foreign or tampered signature with 401 invalid_signature', () => {
    expect(refusal(undefined)).toBe('401 invalid_signature');
    expect(refusal('')).toBe('401 invalid_signature');
    expect(refusal(`t=${T}`)).toBe('401 invalid_signature');
    expect(refusal(`t=${T},v1=not-hex`)).toBe('401 invalid_signature');
    expect(refusal(signWebhook('whsec-stranger-0123456789', BODY, T))).toBe('401 invalid_signature');
    expect(refusal(signWebhook(SECRET, BODY, T), Buffer.from(BODY.toString().replace('page', 'pricing')))).toBe('401 invalid_signature');
    // The timestamp is signed too: moving it breaks the signature.
    expect(refusal(signWebhook(SECRET, BODY, T).replace(`t=${T}`, `t=${T + 1}`))).toBe('401 invalid_signature');
  });

  it('refuses a genuine signature outside the window with 401 stale_signature', () => {
    expect(refusal(signWebhook(SECRET, BODY, T), BODY, T + 301)).toBe('401 stale_signature');
    expect(refusal(signWebhook(SECRET, BODY, T), BODY, T - 301)).toBe('401 stale_signature');
  });
});
