import type { CampaignSkipReason } from './lead/campaign.js';

/**
 * A campaign's arithmetic, pure: what a page adds to its progress, when it is done, what the
 * Temporal UI shows. The workflow and the activity that writes Postgres compute the same totals.
 */

/** What one page of a campaign came to. */
export interface CampaignPage {
  /** Leads on the page (asked). */
  leads: number;
  /** The page's last lead id: the next page starts after it. */
  last: string | null;
  /** Fewer leads than asked for: the segment is exhausted. */
  done: boolean;
  enrolled: number;
  skipped: Partial<Record<CampaignSkipReason, number>>;
  failed: number;
}

export interface CampaignTotals {
  matched: number;
  enrolled: number;
  skipped: Record<string, number>;
  failed: number;
  cursor: string | null;
  pages: number;
}

export function addPage<T extends CampaignTotals>(progress: T, page: CampaignPage): T {
  const skipped = { ...progress.skipped };
  for (const [reason, count] of Object.entries(page.skipped)) skipped[reason] = (skipped[reason] ?? 0) + (count ?? 0);
  return { ...progress, enrolled: progress.enrolled + page.enrolled, skipped, failed: progress.failed + page.failed, cursor: page.last, pages: progress.pages + 1 };
}

/** Leads asked so far. */
export const leadsDone = (progress: CampaignTotals): number => progress.enrolled + progress.failed + Object.values(progress.skipped).reduce((a, b) => a + b, 0);

/** Leads per page: about a second of work at the rate, between 10 and 200. */
export const defaultPageSize = (ratePerSecond: number): number => Math.min(200, Math.max(10, Math.ceil(ratePerSecond)));

/** The Temporal UI's current details of a campaign (markdown): status, a progress bar, the counts. */
export function campaignDetails(progress: CampaignTotals & { status: string }): string {
  const done = leadsDone(progress);
  const share = progress.matched > 0 ? Math.min(1, done / progress.matched) : progress.status === 'running' ? 0 : 1;
  const filled = Math.round(share * 20);
  const skipped = Object.entries(progress.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return [
    `**${progress.status}** \`${'▓'.repeat(filled)}${'░'.repeat(20 - filled)}\` ${Math.floor(share * 100)}%`,
    `${done} of ${progress.matched} matched leads asked: enrolled ${progress.enrolled}, skipped ${skipped.length ? skipped.join(', ') : 0}, failed ${progress.failed}`,
  ].join('\n\n');
}
