import type { ImportProgress } from '../src/domain/imports.js';
import type { Grade, LeadProfile, LeadView } from '../src/domain/lead.js';
import type { PinnedEmail } from '../src/sequences/model.js';

import type { DecisionRecord, SlaBreachRecord, TransitionRecord } from '../src/domain/lead/state.js';
import type { OutcomeRecord } from '../src/domain/lead.js';
import type { CampaignPage } from '../src/domain/campaign.js';
import type { CampaignDefinition, CampaignProgress } from '../workflows/messages.js';

/** Rows of the lead's history (stage changes, decisions, SLA expiries), as the lead machine keeps them. */
export type { DecisionRecord, SlaBreachRecord, TransitionRecord };

export interface RecordLeadStateInput {
  view: LeadView;
  /** Engine v2: the write's revision; Postgres keeps the row of the highest (v1 writes carry none). */
  revision?: number;
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
  slaBreaches?: SlaBreachRecord[];
  /** Outcomes sales reported (lead_outcomes), one per review. */
  outcomes?: OutcomeRecord[];
}

export interface SendNurtureEmailInput {
  lead: LeadProfile;
  template: string;
  /** Idempotency key: lead, sequence version, enrolment and step. */
  sendKey: string;
  sequence: string;
  step: number;
  /** The template pinned in the lead's snapshot (its source, or content rendered at enrolment); absent (older snapshots): rendered by id now. */
  content?: PinnedEmail;
}

export interface NotifySalesInput {
  lead: LeadProfile;
  sendKey: string;
  score: number;
  reviewCount: number;
  events: Array<{ type: string; points: number; occurredAt: string; rule?: string }>;
  /** The review's owner: gets the notification, the sales inbox a copy. */
  owner?: string | null;
  /** Fit grade (absent without fit rules). */
  grade?: Grade;
}

export interface AssignOwnerInput {
  leadId: string;
  reviewNo: number;
}

/** A review past its SLA: level 1 reminds the owner (or the sales inbox), level 2 tells the manager. */
export interface RemindSalesInput {
  lead: LeadProfile;
  sendKey: string;
  reviewNo: number;
  level: 1 | 2;
  owner: string | null;
  score: number;
  /** When the review started (ISO-8601). */
  waitingSince: string;
}

export interface SendResult {
  /** False when the key was already sent (a retry or a replay after a crash). */
  sent: boolean;
  /** True when a marketing email was skipped because the recipient is suppressed. */
  suppressed?: boolean;
  /** True when the SMTP server refused the message permanently (5xx): not retried, address suppressed. */
  bounced?: boolean;
  /** True when the relay answered 4xx on every attempt (SMTP_TRANSIENT_ATTEMPTS): counted as a soft bounce, not sent. */
  softBounced?: boolean;
  messageId?: string;
}

/** Every activity the lead workflow calls; `createActivities` implements it. */
export interface LeadActivities {
  /** Writes the lead's read model, transitions, decisions and outcomes in one transaction, with the webhook outbox rows they stand for. */
  recordLeadState(input: RecordLeadStateInput): Promise<void>;
  /** Sends one step of a nurture sequence, at most once per send key. */
  sendNurtureEmail(input: SendNurtureEmailInput): Promise<SendResult>;
  /** Sends the sales inbox its notification for one escalation, at most once per send key. */
  notifySales(input: NotifySalesInput): Promise<SendResult>;
  /** Picks the review's owner round-robin over SALES_OWNERS; the same answer on a retry. Null when none are configured. */
  assignOwner(input: AssignOwnerInput): Promise<{ owner: string | null }>;
  /** Sends an SLA reminder (level 1) or manager escalation (level 2), at most once per send key. */
  remindSales(input: RemindSalesInput): Promise<SendResult>;
}

/** One page of a campaign: the segment's next leads after `after`, each asked to take the campaign. */
export interface EnrolCampaignPageInput {
  campaign: CampaignDefinition;
  after: string | null;
  limit: number;
  /** The progress before this page: the activity writes it plus the page to Postgres. */
  progress: CampaignProgress;
}

/** The activities of a campaign's workflow; `createCampaignActivities` implements them. */
export interface CampaignActivities {
  /** Enrols one page of the segment at the campaign's rate; asking a lead again is safe (it answers "already enrolled"). */
  enrolCampaignPage(input: EnrolCampaignPageInput): Promise<CampaignPage>;
  /** Writes the campaign's progress to Postgres (a write older than the row's changes nothing). */
  recordCampaignProgress(input: { campaignId: string; progress: CampaignProgress }): Promise<void>;
}

/** The CSV import job's activity (activities/imports.ts). */
export interface ImportActivities {
  /** Handles one page of an import's staged rows (creates leads, starts their workflows) and answers the progress. */
  importPage(input: { importId: string; pageSize: number }): Promise<ImportProgress>;
}

/** The webhook deliverer's activities (activities/webhooks.ts), on task queue `webhooks`. */
export interface WebhookActivities {
  /**
   * One attempt of one delivery: signs the outbox row's payload (Standard Webhooks, its id as
   * `webhook-id`), POSTs it, records the attempt (status, error, duration). Throws on anything
   * but a 2xx so Temporal retries with back-off; answers without sending for a delivered row or a
   * deleted endpoint.
   */
  deliverWebhook(input: { outboxId: string }): Promise<'delivered' | 'cancelled'>;
  /** Marks a delivery given up (its retry window is over). */
  giveUpWebhook(input: { outboxId: string }): Promise<void>;
}
