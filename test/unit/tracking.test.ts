import { describe, expect, it } from 'vitest';
import { signTrackingToken, trackEmail, trackingEventId, verifyTrackingToken, type TrackingClaims } from '../../src/infra/tracking.js';
import { renderTemplate } from '../../src/sequences/catalog.js';

const SECRET = 'unit-tracking-secret-0123';
const claims: TrackingClaims = { l: 'lead-1', k: 'lead-1:onboarding@v1:e1:s4', t: 'product-tour', a: 'click', u: 'https://leadflow.example.com/tour' };

describe('tracking tokens', () => {
  it('verify for the lead and action they were signed for, and nothing else', () => {
    const token = signTrackingToken(SECRET, claims);
    expect(verifyTrackingToken(SECRET, token, 'lead-1', 'click')).toEqual(claims);
    expect(verifyTrackingToken(SECRET, token, 'lead-2', 'click')).toBeNull();
    expect(verifyTrackingToken(SECRET, token, 'lead-1', 'open')).toBeNull();
    expect(verifyTrackingToken('another-secret-0123456', token, 'lead-1', 'click')).toBeNull();
    const [body, signature] = token.split('.');
    const altered = Buffer.from(JSON.stringify({ ...claims, u: 'https://evil.example.com' })).toString('base64url');
    expect(verifyTrackingToken(SECRET, `${altered}.${signature}`, 'lead-1', 'click')).toBeNull();
    expect(verifyTrackingToken(SECRET, `${body}.${signature}x`, 'lead-1', 'click')).toBeNull();
    expect(verifyTrackingToken(SECRET, 'garbage', 'lead-1', 'click')).toBeNull();
  });

  it('give one eventId per email for opens and per email and link for clicks', () => {
    const open: TrackingClaims = { ...claims, a: 'open', u: undefined };
    expect(trackingEventId(open)).toBe(trackingEventId({ ...open }));
    expect(trackingEventId(open)).not.toBe(trackingEventId({ ...open, k: 'lead-1:onboarding@v1:e1:s6' }));
    expect(trackingEventId(claims)).not.toBe(trackingEventId({ ...claims, u: 'https://leadflow.example.com/pricing' }));
    expect(trackingEventId(claims)).toMatch(/^click:[0-9a-f]{32}$/);
  });
});

describe('trackEmail', () => {
  it('tracks every link in HTML and text, adds the pixel, the unsubscribe link and the List-Unsubscribe headers', () => {
    const rendered = renderTemplate('product-tour', { lead: { id: 'lead-1', email: 'ada@example.com', firstName: 'Ada' } });
    const tracked = trackEmail(rendered, { leadId: 'lead-1', sendKey: claims.k, template: 'product-tour' }, { secret: SECRET, baseUrl: 'https://go.example.com/' });
    expect(tracked.html).not.toContain('href="https://leadflow.example.com/tour"');
    const links = [...tracked.html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(links.map((l) => new URL(l).pathname)).toEqual(['/v1/t/lead-1/click', '/v1/t/lead-1/unsubscribe', '/v1/t/lead-1/open']);
    const clickToken = new URL(links[0]!).searchParams.get('t')!;
    expect(verifyTrackingToken(SECRET, clickToken, 'lead-1', 'click')).toMatchObject({ u: 'https://leadflow.example.com/tour', k: claims.k, t: 'product-tour' });
    expect(tracked.text).toContain(`Take the tour: ${links[0]}`);
    expect(tracked.text).not.toContain('https://leadflow.example.com/tour');
    expect(tracked.text).toContain(`Unsubscribe: ${links[1]}`);
    expect(tracked.headers).toEqual({ 'List-Unsubscribe': `<${links[1]}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
  });
});
