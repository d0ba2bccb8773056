import { EngagementFilterSchema, type EngagementFilter } from './model.js';

/**
 * Honest engagement, beside the scoring rules (docs/sequences.md, "Opens and clicks that do not
 * score"): an open fetched by a privacy proxy and a click by a link scanner are recorded on the
 * lead, shown as filtered with the reason, and score nothing. Bump `version` on every change; new
 * enrolments get it. `npm run sequences -- check` validates the patterns and ranges.
 *
 * Known limits: Apple's proxies are recognised by Apple's own network (17.0.0.0/8, Apple's since
 * the 1980s) and by the bare `Mozilla/5.0` user agent they send; an open by a person on Apple's
 * corporate network would be filtered too. A scanner with a browser's user agent that waits longer
 * than `clickWithinSeconds` and clicks one link only is not caught.
 */
export const DEFAULT_ENGAGEMENT_FILTER: EngagementFilter = {
  version: 1,
  privacyProxies: [
    { id: 'apple-mail-privacy-protection', label: 'Apple Mail Privacy Protection', userAgent: '^Mozilla/5\\.0$', ipRanges: ['17.0.0.0/8'] },
    { id: 'gmail-image-proxy', label: "Gmail's image proxy", userAgent: 'GoogleImageProxy' },
    { id: 'yahoo-mail-proxy', label: "Yahoo Mail's image proxy", userAgent: 'YahooMailProxy' },
  ],
  linkScanners: [
    { id: 'security-gateway', label: 'an email security gateway', userAgent: 'Barracuda|Mimecast|Proofpoint|Symantec|Forcepoint|TrendMicro|Sophos|Cisco|FireEye|SafeLinks' },
    { id: 'link-preview', label: 'a link preview bot', userAgent: 'BingPreview|Slackbot|facebookexternalhit|LinkedInBot|Twitterbot|Discordbot|WhatsApp|TelegramBot|SkypeUriPreview' },
    { id: 'headless-browser', label: 'a headless browser', userAgent: 'HeadlessChrome|PhantomJS|Puppeteer|Playwright' },
    { id: 'http-library', label: 'an HTTP library', userAgent: '^(curl|Wget|python-requests|python-urllib|Go-http-client|Java/|okhttp|libwww-perl|axios)' },
  ],
  clickWithinSeconds: 10,
  allLinksWithinSeconds: 10,
};

/**
 * What `npm run sequences -- check` finds wrong with a filter: the schema's refusals (a pattern
 * that is no regular expression, a range that is no CIDR, a proxy matching on nothing) and ids
 * used twice. Each names the field.
 */
export function checkEngagementFilter(filter: unknown): string[] {
  const parsed = EngagementFilterSchema.safeParse(filter);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${issue.path.join('.') || 'engagementFilter'}: ${issue.message}`);
  const ids = [...parsed.data.privacyProxies, ...parsed.data.linkScanners].map((rule) => rule.id);
  return ids.filter((id, i) => ids.indexOf(id) !== i).map((id) => `id "${id}" is used twice (proxies and scanners share one namespace: the lead's story names them)`);
}
