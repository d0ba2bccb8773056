import type { EngagementEvent } from '../lead.js';
import type { EngagementFilter } from '../../sequences/model.js';
import { inRange, parseIp, parseIpRange } from '../ip.js';

/**
 * Honest engagement: whether an open or a click is a person's or a machine's (a privacy proxy
 * fetching every image, a link scanner following every link), from the facts the tracking
 * routes put on the event: `userAgent`, `ip`, `deliveredAt`, `links` (tracked links in the
 * email), `sendKey`, `url`. Events without those facts (reported through the API) are judged on
 * what they carry. Pure: the lead machine runs it on every email engagement.
 */

/** Clicks of one email close together (to see every link of it clicked at once); the lead keeps BURSTS_KEPT. */
export interface ClickBurst {
  sendKey: string;
  /** When the burst's first click happened (epoch ms, from occurredAt). */
  since: number;
  urls: string[];
  eventIds: string[];
  /** Every link was clicked within the window: later clicks of the burst are the scanner's too. */
  scanner?: boolean;
}

export const BURSTS_KEPT = 10;

export interface EngagementVerdict {
  reason: 'privacy_proxy' | 'link_scanner';
  /** The proxy's or scanner's id in the filter, or `click-on-delivery` / `every-link`. */
  rule: string;
  /** Why, in a sentence for the lead's story. */
  text: string;
}

export interface Screening {
  verdict?: EngagementVerdict;
  /** The lead's click bursts after this event (undefined: unchanged). */
  bursts?: ClickBurst[];
  /** Earlier clicks that turn out to be the scanner's (this event completed the burst): they stop counting. */
  unscore: string[];
}

const textOf = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const matches = (pattern: string | undefined, userAgent: string | undefined): boolean => pattern !== undefined && userAgent !== undefined && new RegExp(pattern, 'i').test(userAgent);

function proxyOf(filter: EngagementFilter, userAgent: string | undefined, ip: string | undefined): EngagementVerdict | undefined {
  const address = ip === undefined ? undefined : parseIp(ip);
  for (const proxy of filter.privacyProxies) {
    if (matches(proxy.userAgent, userAgent)) return { reason: 'privacy_proxy', rule: proxy.id, text: `fetched by ${proxy.label} (its user agent), not opened by a person` };
    const range = address ? proxy.ipRanges?.find((r) => {
      const parsed = parseIpRange(r);
      return parsed !== undefined && inRange(address, parsed);
    }) : undefined;
    if (range) return { reason: 'privacy_proxy', rule: proxy.id, text: `fetched by ${proxy.label} (from ${range}), not opened by a person` };
  }
  return undefined;
}

function scannerOf(filter: EngagementFilter, userAgent: string | undefined, action: string): EngagementVerdict | undefined {
  const scanner = filter.linkScanners.find((s) => matches(s.userAgent, userAgent));
  return scanner ? { reason: 'link_scanner', rule: scanner.id, text: `${action} by ${scanner.label} (its user agent)` } : undefined;
}

/** The verdict on one `email.opened` or `email.clicked` event, and what it changes in the lead's click bursts. */
export function screenEngagement(filter: EngagementFilter, event: EngagementEvent, bursts: readonly ClickBurst[]): Screening {
  const properties = event.properties ?? {};
  const userAgent = textOf(properties.userAgent);
  const ip = textOf(properties.ip);
  if (event.type === 'email.opened') return { verdict: proxyOf(filter, userAgent, ip) ?? scannerOf(filter, userAgent, 'fetched'), unscore: [] };
  if (event.type !== 'email.clicked') return { unscore: [] };

  let verdict = scannerOf(filter, userAgent, 'followed');
  const at = Date.parse(event.occurredAt);
  const deliveredAt = textOf(properties.deliveredAt) === undefined ? NaN : Date.parse(properties.deliveredAt as string);
  const sinceDelivery = at - deliveredAt;
  if (!verdict && filter.clickWithinSeconds > 0 && sinceDelivery >= 0 && sinceDelivery < filter.clickWithinSeconds * 1000) {
    verdict = { reason: 'link_scanner', rule: 'click-on-delivery', text: `clicked ${Math.floor(sinceDelivery / 1000)} s after delivery (scanners check links as mail arrives; people take longer than ${filter.clickWithinSeconds} s)` };
  }

  const sendKey = textOf(properties.sendKey);
  const url = textOf(properties.url);
  const links = typeof properties.links === 'number' ? properties.links : undefined;
  const window = filter.allLinksWithinSeconds * 1000;
  if (!sendKey || !url || links === undefined || links < 2 || window === 0 || Number.isNaN(at)) return { ...(verdict ? { verdict } : {}), unscore: [] };

  const previous = bursts.find((b) => b.sendKey === sendKey);
  const open = previous && at - previous.since <= window ? previous : undefined;
  const burst: ClickBurst = open
    ? { ...open, urls: open.urls.includes(url) ? open.urls : [...open.urls, url], eventIds: [...open.eventIds, event.eventId] }
    : { sendKey, since: at, urls: [url], eventIds: [event.eventId] };
  let unscore: string[] = [];
  if (open?.scanner) {
    verdict ??= { reason: 'link_scanner', rule: 'every-link', text: `another click of an email whose ${links} links were all clicked within ${filter.allLinksWithinSeconds} s` };
  } else if (burst.urls.length >= links) {
    burst.scanner = true;
    verdict ??= { reason: 'link_scanner', rule: 'every-link', text: `all ${links} links of the email clicked within ${filter.allLinksWithinSeconds} s (a scanner follows every link; a person picks one)` };
    unscore = burst.eventIds.filter((id) => id !== event.eventId);
  }
  const next = [...bursts.filter((b) => b.sendKey !== sendKey), burst];
  return { ...(verdict ? { verdict } : {}), bursts: next.length > BURSTS_KEPT ? next.slice(next.length - BURSTS_KEPT) : next, unscore };
}
