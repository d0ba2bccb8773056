import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RenderedEmail } from '../sequences/templates.js';

/**
 * Open and click tracking and one-click unsubscribe for marketing email: links signed with
 * HMAC-SHA256 (TRACKING_SECRET), so only links we sent are honoured and one lead's link never
 * acts on another lead. The API verifies them (src/server/tracking-routes.ts); the send activity
 * puts them into the email (trackEmail).
 */

export type TrackingAction = 'open' | 'click' | 'unsubscribe';

/** What a tracking link stands for: one lead, one email (send key), one action, one target URL for clicks. */
export interface TrackingClaims {
  /** Lead id. */
  l: string;
  /** Send key of the email (lead, sequence version, enrolment, step). */
  k: string;
  /** Template id, kept with the event for reports. */
  t: string;
  /** Action. */
  a: TrackingAction;
  /** Target URL (clicks). */
  u?: string;
  /** How many distinct tracked links the email has (clicks; absent in links sent before): a scanner clicks them all. */
  n?: number;
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');
const mac = (secret: string, body: string) => createHmac('sha256', secret).update(`leadflow-tracking.${body}`).digest();

export function signTrackingToken(secret: string, claims: TrackingClaims): string {
  const body = b64(JSON.stringify(claims));
  return `${body}.${b64(mac(secret, body))}`;
}

/** The claims of a token we signed for `leadId` and `action`; null for anything else (forged, altered, another lead's). */
export function verifyTrackingToken(secret: string, token: string, leadId: string, action: TrackingAction): TrackingClaims | null {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return null;
  const expected = mac(secret, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: TrackingClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TrackingClaims;
  } catch {
    return null;
  }
  if (claims.l !== leadId || claims.a !== action || typeof claims.k !== 'string') return null;
  if (action === 'click' && !/^https?:\/\//.test(claims.u ?? '')) return null;
  return claims;
}

/**
 * The eventId an open or click becomes: one per email for opens (a second open of the same email
 * is a duplicate), one per email and link for clicks, and per visitor (user agent and address)
 * when the route knows it: a link scanner's click on arrival must not make the person's own click
 * later a duplicate. Same dedupe path as POST /v1/leads/{id}/events.
 */
export function trackingEventId(claims: TrackingClaims, visitor?: string): string {
  const digest = createHash('sha256').update(`${claims.k}\n${claims.a}\n${claims.u ?? ''}${visitor === undefined ? '' : `\n${visitor}`}`).digest('hex').slice(0, 32);
  return `${claims.a}:${digest}`;
}

export interface TrackingOptions {
  secret: string;
  /** The API as recipients reach it (PUBLIC_URL). */
  baseUrl: string;
}

export const trackingUrl = (baseUrl: string, leadId: string, action: TrackingAction, token: string): string =>
  `${baseUrl.replace(/\/+$/, '')}/v1/t/${encodeURIComponent(leadId)}/${action}?t=${token}`;

const unescapeHtml = (value: string): string =>
  value.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? _m);
const escapeAttr = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/**
 * A marketing email with tracked links (every http(s) link in the HTML, and the same URLs in the
 * text), an open pixel, an unsubscribe link, and the List-Unsubscribe headers (RFC 2369, RFC 8058
 * one-click).
 */
export function trackEmail(email: RenderedEmail, context: { leadId: string; sendKey: string; template: string }, options: TrackingOptions): RenderedEmail & { headers: Record<string, string> } {
  // Every click token carries the email's count of distinct links (the engagement filter's "every link at once").
  const links = new Set([...email.html.matchAll(/href="(https?:\/\/[^"]+)"/g)].map((m) => unescapeHtml(m[1]!))).size;
  const token = (action: TrackingAction, url?: string) =>
    signTrackingToken(options.secret, { l: context.leadId, k: context.sendKey, t: context.template, a: action, ...(url ? { u: url, n: links } : {}) });
  const link = (action: TrackingAction, url?: string) => trackingUrl(options.baseUrl, context.leadId, action, token(action, url));

  const tracked = new Map<string, string>();
  const html = email.html.replace(/href="(https?:\/\/[^"]+)"/g, (_match, raw: string) => {
    const url = unescapeHtml(raw);
    if (!tracked.has(url)) tracked.set(url, link('click', url));
    return `href="${escapeAttr(tracked.get(url)!)}"`;
  });
  let text = email.text;
  for (const [url, trackedUrl] of tracked) text = text.split(url).join(trackedUrl);

  const unsubscribe = link('unsubscribe');
  return {
    subject: email.subject,
    text: `${text}\n\n--\nUnsubscribe: ${unsubscribe}`,
    html:
      `${html}\n<p style="font-size:12px;color:#666"><a href="${escapeAttr(unsubscribe)}">Unsubscribe</a> from these emails.</p>` +
      `\n<img src="${escapeAttr(link('open'))}" width="1" height="1" alt="" style="display:block;border:0">`,
    headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}
