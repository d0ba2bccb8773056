import type { z } from 'zod';
import type * as S from '../../src/server/schemas.ts';
import type * as C from '../../src/server/campaign-routes.ts';
import type * as R from '../../src/server/report-routes.ts';

// The console's types are the API's own zod schemas, so the two cannot drift apart.
export type Session = z.infer<typeof S.Session>;
export type LeadSummary = z.infer<typeof S.LeadSummary>;
export type LeadDetail = z.infer<typeof S.LeadDetail>;
export type Funnel = z.infer<typeof S.Funnel>;
export type FunnelFigures = Omit<Funnel, 'filter' | 'bySequence' | 'byWeek' | 'revenue'>;
export type MailMessage = z.infer<typeof S.Mailbox>['messages'][number];
export type ImportStatus = z.infer<typeof S.ImportStatus>;
export type ImportAccepted = z.infer<typeof S.ImportAccepted>;
export type RejectReason = Session['rejectReasons'][number];
export type Campaign = z.infer<typeof C.Campaign>;
export type CampaignSegment = z.input<typeof C.SegmentSchema>;
export type Role = Session['roles'][number];
export type ScoringReport = z.infer<typeof R.ScoringReport>;
export type RuleCalibration = ScoringReport['rules'][number];

/** The decision a 409 `not_in_review` names: the one that closed the review first. */
export interface ClosingDecision {
  reviewNo: number;
  decision: 'accepted' | 'rejected' | 'disqualified';
  reason: string | null;
  by: string;
  at: string;
}

/** An answer other than 2xx: the API's `{ error, message, details? }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Who is signed in: the role key (sent as a bearer token) and the name recorded with decisions. */
export interface Credentials {
  key: string;
  by: string;
}

const STORAGE_KEY = 'leadflow.console.credentials';

/** Credentials live in sessionStorage: they last as long as the tab, never on disk for long. */
export const credentialStore = {
  load(): Credentials | undefined {
    try {
      const raw = sessionStorage.getItem(STORAGE_KEY);
      const parsed = raw ? (JSON.parse(raw) as Partial<Credentials>) : undefined;
      return parsed?.key ? { key: parsed.key, by: parsed.by ?? '' } : undefined;
    } catch {
      return undefined;
    }
  },
  save(credentials: Credentials): void {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
  },
  clear(): void {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

/** The HTTP API v1 as the console calls it, with the signed-in key. */
export class Api {
  constructor(private readonly key: string) {}

  private async call<T>(method: 'GET' | 'POST', url: string, body?: unknown, csv?: Blob): Promise<T> {
    const contentType = csv ? 'text/csv' : body === undefined ? undefined : 'application/json';
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(contentType ? { 'content-type': contentType } : {}) },
      ...(csv ? { body: csv } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = response.headers.get('content-type')?.includes('application/json') ? await response.json() : undefined;
    if (!response.ok) {
      throw new ApiError(response.status, json?.error ?? 'http_error', json?.message ?? `${method} ${url} answered ${response.status}`, json?.details);
    }
    return json as T;
  }

  session = () => this.call<Session>('GET', '/v1/session');
  queue = () => this.call<{ leads: LeadSummary[] }>('GET', '/v1/leads?stage=sales_review&limit=500').then((r) => r.leads);
  lead = (id: string) => this.call<LeadDetail>('GET', `/v1/leads/${encodeURIComponent(id)}`);
  accept = (id: string, body: { by: string; notes?: string }) => this.call<{ id: string; stage: string }>('POST', `/v1/leads/${encodeURIComponent(id)}/accept`, body);
  reject = (id: string, body: { by: string; reason: RejectReason; notes?: string }) =>
    this.call<{ id: string; stage: string }>('POST', `/v1/leads/${encodeURIComponent(id)}/reject`, body);
  funnel = (filter: { sequence?: string; from?: string; to?: string }) => {
    const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => Boolean(entry[1])));
    return this.call<Funnel>('GET', `/v1/funnel${query.size ? `?${query}` : ''}`);
  };
  scoring = (since?: string) => this.call<ScoringReport>('GET', `/v1/reports/scoring${since ? `?since=${encodeURIComponent(since)}` : ''}`);
  campaigns = () => this.call<{ campaigns: Campaign[] }>('GET', '/v1/campaigns').then((r) => r.campaigns);
  /** The dry run ignores the id; the sequence is any the catalog has. */
  dryRun = (segment: CampaignSegment, sequence: string) =>
    this.call<{ matched: number; sample: string[] }>('POST', '/v1/campaigns', { id: 'dry-run', sequence, segment, dryRun: true });
  startCampaign = (body: { id: string; sequence: string; segment: CampaignSegment; ratePerSecond: number }) =>
    this.call<{ id: string; status: string; matched: number }>('POST', '/v1/campaigns', body);
  cancelCampaign = (id: string) => this.call<Campaign>('POST', `/v1/campaigns/${encodeURIComponent(id)}/cancel`);
  /** Uploads a CSV file as an import (the browser streams the file; the API stages it before answering). */
  importCsv = (file: Blob, sequence?: string) => this.call<ImportAccepted>('POST', `/v1/imports${sequence ? `?sequence=${encodeURIComponent(sequence)}` : ''}`, undefined, file);
  importStatus = (id: string) => this.call<ImportStatus>('GET', `/v1/imports/${encodeURIComponent(id)}`);
  /** Newest first (the API answers oldest first, up to 1000). */
  mailbox = (to?: string) =>
    this.call<{ messages: MailMessage[] }>('GET', `/v1/dev/mailbox?limit=1000${to ? `&to=${encodeURIComponent(to)}` : ''}`).then((r) => r.messages.reverse());
}

/** The decision named by a 409 `not_in_review`, if the API named one. */
export function closingDecision(error: unknown): ClosingDecision | undefined {
  if (!(error instanceof ApiError) || error.code !== 'not_in_review') return undefined;
  const details = error.details as { decision?: ClosingDecision } | undefined;
  return details?.decision;
}
