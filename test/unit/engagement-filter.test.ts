import { describe, expect, it } from 'vitest';
import type { EngagementEvent } from '../../src/domain/lead.js';
import { inRange, parseIp, parseIpRange } from '../../src/domain/ip.js';
import { screenEngagement, type ClickBurst } from '../../src/domain/lead/honest.js';
import { newLeadState, reduce, type LeadContext, type LeadMachineState } from '../../src/domain/lead/index.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import { checkEngagementFilter, DEFAULT_ENGAGEMENT_FILTER } from '../../src/sequences/engagement-filter.js';
import type { Program } from '../../src/sequences/model.js';

/**
 * Honest engagement, pure: scripted opens and clicks (user agents as the proxies and scanners
 * send them, addresses, delivery times, several links) through the rule, then through the lead
 * machine: filtered events are told in the story and score nothing.
 */

const filter = DEFAULT_ENGAGEMENT_FILTER;
const DELIVERED = '2026-12-01T10:00:00.000Z';
const after = (seconds: number) => new Date(Date.parse(DELIVERED) + seconds * 1000).toISOString();
const SAFARI = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

let n = 0;
const open = (properties: Record<string, unknown>, at = after(600)): EngagementEvent => ({ eventId: `o-${++n}`, type: 'email.opened', occurredAt: at, properties: { sendKey: 'k1', deliveredAt: DELIVERED, ...properties } });
const click = (url: string, at: string, properties: Record<string, unknown> = {}): EngagementEvent => ({
  eventId: `c-${++n}`,
  type: 'email.clicked',
  occurredAt: at,
  properties: { sendKey: 'k1', url, links: 3, userAgent: SAFARI, ip: '198.51.100.7', deliveredAt: DELIVERED, ...properties },
});
const verdictOf = (event: EngagementEvent, bursts: ClickBurst[] = []) => screenEngagement(filter, event, bursts).verdict;

describe('the engagement filter (pure rule)', () => {
  it('takes opens fetched by privacy proxies for what they are: Apple by its network or bare user agent, Gmail and Yahoo by theirs', () => {
    expect(verdictOf(open({ userAgent: 'Mozilla/5.0', ip: '17.58.101.3' }))).toMatchObject({ reason: 'privacy_proxy', rule: 'apple-mail-privacy-protection' });
    expect(verdictOf(open({ userAgent: SAFARI, ip: '::ffff:17.123.4.5' }))?.text).toBe('fetched by Apple Mail Privacy Protection (from 17.0.0.0/8), not opened by a person');
    expect(verdictOf(open({ userAgent: 'Mozilla/5.0', ip: '203.0.113.9' }))).toMatchObject({ rule: 'apple-mail-privacy-protection' });
    expect(verdictOf(open({ userAgent: GMAIL_PROXY, ip: '66.249.84.1' }))).toMatchObject({ reason: 'privacy_proxy', rule: 'gmail-image-proxy' });
    expect(verdictOf(open({ userAgent: 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html' }))).toMatchObject({ rule: 'yahoo-mail-proxy' });
    expect(verdictOf(open({ userAgent: 'Mozilla/5.0 (compatible; Barracuda Sentinel)' }))).toMatchObject({ reason: 'link_scanner', rule: 'security-gateway' });
  });

  it('lets a person’s open through: a browser’s user agent from an ordinary address, or no facts at all (an event through the API)', () => {
    expect(verdictOf(open({ userAgent: SAFARI, ip: '198.51.100.7' }))).toBeUndefined();
    expect(verdictOf(open({ userAgent: SAFARI, ip: '18.0.0.1' }))).toBeUndefined();
    expect(verdictOf({ eventId: 'api-1', type: 'email.opened', occurredAt: after(1) })).toBeUndefined();
    expect(verdictOf({ eventId: 'api-2', type: 'page.viewed', occurredAt: after(1), properties: { userAgent: GMAIL_PROXY } })).toBeUndefined();
  });

  it('takes a click within clickWithinSeconds of delivery, or by a scanner’s user agent, for a scanner’s', () => {
    expect(verdictOf(click('https://a.example/1', after(2)))).toMatchObject({ reason: 'link_scanner', rule: 'click-on-delivery', text: expect.stringContaining('clicked 2 s after delivery') });
    expect(verdictOf(click('https://a.example/1', after(9.9)))).toMatchObject({ rule: 'click-on-delivery' });
    expect(verdictOf(click('https://a.example/1', after(10)))).toBeUndefined();
    expect(verdictOf(click('https://a.example/1', after(3600), { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0' }))).toMatchObject({ rule: 'headless-browser' });
    expect(verdictOf(click('https://a.example/1', after(3600), { userAgent: 'python-requests/2.31' }))).toMatchObject({ rule: 'http-library' });
    expect(verdictOf(click('https://a.example/1', after(3600), { userAgent: 'Mozilla/5.0 (compatible; Mimecast URL Protect)' }))).toMatchObject({ rule: 'security-gateway' });
  });

  it('takes every link of an email clicked within allLinksWithinSeconds for a scanner: the click that completes the set, the rest of the burst, and the earlier clicks to take back', () => {
    let bursts: ClickBurst[] = [];
    const take = (event: EngagementEvent) => {
      const screening = screenEngagement(filter, event, bursts);
      bursts = screening.bursts ?? bursts;
      return screening;
    };
    const first = click('https://a.example/1', after(600));
    const second = click('https://a.example/2', after(602));
    expect(take(first)).toEqual({ bursts: expect.any(Array), unscore: [] });
    expect(take(second).verdict).toBeUndefined();
    const third = take(click('https://a.example/3', after(604)));
    expect(third.verdict).toMatchObject({ reason: 'link_scanner', rule: 'every-link', text: 'all 3 links of the email clicked within 10 s (a scanner follows every link; a person picks one)' });
    expect(third.unscore).toEqual([first.eventId, second.eventId]);
    expect(take(click('https://a.example/1', after(605))).verdict).toMatchObject({ rule: 'every-link' });

    // A person: the same three links, but minutes apart, are three clicks that count.
    bursts = [];
    for (const [i, url] of ['https://a.example/1', 'https://a.example/2', 'https://a.example/3'].entries()) {
      expect(take(click(url, after(600 + i * 120), { sendKey: 'k2' })).verdict).toBeUndefined();
    }
    // One link twice is not every link; an email with one link never triggers the rule.
    bursts = [];
    expect(take(click('https://a.example/1', after(600), { sendKey: 'k3' })).verdict).toBeUndefined();
    expect(take(click('https://a.example/1', after(601), { sendKey: 'k3' })).verdict).toBeUndefined();
    expect(take(click('https://a.example/1', after(600), { sendKey: 'k4', links: 1 })).verdict).toBeUndefined();
  });

  it('checks its parameters: a pattern that is no regular expression, a range that is no CIDR, a proxy matching nothing, an id used twice', () => {
    expect(checkEngagementFilter(DEFAULT_ENGAGEMENT_FILTER)).toEqual([]);
    const broken = { ...DEFAULT_ENGAGEMENT_FILTER, privacyProxies: [{ id: 'p', label: 'P', userAgent: '(unclosed' }, { id: 'q', label: 'Q', ipRanges: ['17.0.0.0/33'] }] };
    expect(checkEngagementFilter(broken)).toEqual(['privacyProxies.0.userAgent: a valid regular expression', 'privacyProxies.1.ipRanges.0: an IPv4 or IPv6 range in CIDR form, e.g. 17.0.0.0/8']);
    expect(checkEngagementFilter({ ...DEFAULT_ENGAGEMENT_FILTER, privacyProxies: [{ id: 'r', label: 'R' }] })).toEqual(['privacyProxies: every proxy names a userAgent or ipRanges']);
    expect(checkEngagementFilter({ ...DEFAULT_ENGAGEMENT_FILTER, clickWithinSeconds: -1 })).toEqual([expect.stringMatching(/^clickWithinSeconds: /)]);
    expect(checkEngagementFilter({ ...DEFAULT_ENGAGEMENT_FILTER, linkScanners: [...DEFAULT_ENGAGEMENT_FILTER.linkScanners, { id: 'gmail-image-proxy', label: 'x', userAgent: 'x' }] })).toEqual([
      'id "gmail-image-proxy" is used twice (proxies and scanners share one namespace: the lead\'s story names them)',
    ]);
  });
});

describe('IP ranges', () => {
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 addresses against CIDR ranges', () => {
    const apple = parseIpRange('17.0.0.0/8')!;
    expect(inRange(parseIp('17.255.0.1')!, apple)).toBe(true);
    expect(inRange(parseIp('::ffff:17.1.2.3')!, apple)).toBe(true);
    expect(inRange(parseIp('16.255.255.255')!, apple)).toBe(false);
    const v6 = parseIpRange('2620:149::/32')!;
    expect(inRange(parseIp('2620:149:a:b::1')!, v6)).toBe(true);
    expect(inRange(parseIp('2620:14a::1')!, v6)).toBe(false);
    expect(inRange(parseIp('17.0.0.1')!, v6)).toBe(false);
    for (const bad of ['17.0.0', '256.1.1.1', '1::2::3', 'fe80::1%eth0', 'example.com', '']) expect(parseIp(bad), bad).toBeUndefined();
    for (const bad of ['17.0.0.0', '17.0.0.0/33', '::/129', '17.0.0.0/8/1']) expect(parseIpRange(bad), bad).toBeUndefined();
  });
});

describe('the lead machine with the engagement filter', () => {
  const T0 = Date.UTC(2026, 11, 1, 10);
  const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
  const start = (program: Program = anyHour) => {
    const snapshot = programSnapshot('onboarding', program);
    const ctx = (): LeadContext => ({ now: T0 + 3_600_000, program: snapshot });
    let state: LeadMachineState = newLeadState({ id: 'L1', email: 'l1@example.com' }, ctx());
    state = reduce(state, { kind: 'enrolment' }, ctx()).state;
    return {
      take(event: EngagementEvent) {
        const next = reduce(state, { kind: 'engagement', event }, ctx());
        state = next.state;
        return next.effects;
      },
      get state() {
        return state;
      },
    };
  };
  const filteredLines = (state: LeadMachineState) => state.timeline.filter((e) => e.kind === 'filtered').map((e) => e.text);

  it('records a proxy open and a scanner click without scoring them, saying why; a person’s open and click score', () => {
    const lead = start();
    lead.take(open({ userAgent: GMAIL_PROXY }));
    lead.take(click('https://a.example/1', after(1)));
    expect(lead.state.engagement.score).toBe(0);
    expect(filteredLines(lead.state)).toEqual([
      "email.opened recorded, not scored: fetched by Gmail's image proxy (its user agent), not opened by a person",
      'email.clicked recorded, not scored: clicked 1 s after delivery (scanners check links as mail arrives; people take longer than 10 s)',
    ]);
    lead.take(open({ userAgent: SAFARI, ip: '198.51.100.7' }));
    lead.take(click('https://a.example/2', after(900)));
    expect(lead.state.engagement.score).toBe(1 + 3);
    expect(lead.state.engagement.lastSeen).toHaveProperty('email.clicked');
  });

  it('takes back the points of earlier clicks once the burst turns out to be every link at once', () => {
    const lead = start();
    lead.take(click('https://a.example/1', after(600)));
    lead.take(click('https://a.example/2', after(601)));
    expect(lead.state.engagement.score).toBe(6);
    lead.take(click('https://a.example/3', after(602)));
    expect(lead.state.engagement.score).toBe(0);
    expect(lead.state.engagement.recent).toEqual([]);
    expect(filteredLines(lead.state)).toEqual([
      '2 earlier click(s) of that email no longer count (-6): all 3 links of the email clicked within 10 s (a scanner follows every link; a person picks one) → score 0',
      'email.clicked recorded, not scored: all 3 links of the email clicked within 10 s (a scanner follows every link; a person picks one)',
    ]);
  });

  it('a filtered event asks for no effect at all (no read-model write, no timer): it costs no more than a scored one', () => {
    const lead = start();
    expect(lead.take(open({ userAgent: GMAIL_PROXY }))).toEqual([]);
    expect(lead.state.published.scoreDueAt).toBeUndefined();
  });

  it('scores every open and click as before for a lead whose program has no filter (snapshots from before it existed)', () => {
    const { engagementFilter: _none, ...before } = anyHour;
    const lead = start(before);
    lead.take(open({ userAgent: GMAIL_PROXY }));
    lead.take(click('https://a.example/1', after(1)));
    expect(lead.state.engagement.score).toBe(4);
    expect(filteredLines(lead.state)).toEqual([]);
  });
});
