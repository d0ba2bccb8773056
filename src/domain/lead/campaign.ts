import type { PinnedEmail, Sequence } from '../../sequences/model.js';
import { sequenceLabel } from '../../sequences/steps.js';
import { enrol } from './sequence.js';
import { currentSequence, isTerminal, note, type LeadContext, type LeadMachineState } from './state.js';

/**
 * Campaign enrolment: a campaign moves an existing lead into its sequence. The lead's current
 * sequence ends and the campaign's starts as a new enrolment (the enrolment number grows, so
 * every send key stays unique); a lead enrolled by a campaign once is never enrolled by it again.
 */

/** How many campaign ids a lead remembers (oldest dropped first): a campaign asks each lead once, a retry soon after. */
export const CAMPAIGNS_KEPT = 100;

/** Why a lead does not take a campaign: the code the campaign counts it under. */
export const CAMPAIGN_SKIP_REASONS = ['already_enrolled', 'closed', 'unsubscribed', 'in_review', 'in_sequence'] as const;
export type CampaignSkipReason = (typeof CAMPAIGN_SKIP_REASONS)[number];

export interface CampaignEnrolment {
  campaignId: string;
  /** The campaign's sequence, pinned as the campaign snapshotted it. */
  sequence: Sequence;
  /** Sequences its gotos reach, pinned with it. */
  sequences?: Sequence[];
  /** Its templates' sources as the campaign pinned them (rendered for the lead as each email goes). */
  templates?: Record<string, PinnedEmail>;
}

export interface CampaignRefusal {
  code: CampaignSkipReason;
  message: string;
}

/**
 * The check the Update validator and the machine both run: undefined when the lead takes the
 * campaign. "Already enrolled" comes first: a campaign retrying its ask after a crash must hear
 * that it enrolled the lead, even if the lead has since moved on (to review, say).
 */
export function checkCampaignEnrolment(state: LeadMachineState, enrolment: CampaignEnrolment, ctx: Pick<LeadContext, 'program'>): CampaignRefusal | undefined {
  const id = state.profile.id;
  if ((state.campaigns ?? []).includes(enrolment.campaignId)) return { code: 'already_enrolled', message: `lead ${id} was already enrolled by campaign ${enrolment.campaignId}` };
  if (isTerminal(state.stage)) return { code: 'closed', message: `lead ${id} is ${state.stage}` };
  if (state.unsubscribed) return { code: 'unsubscribed', message: `lead ${id} unsubscribed` };
  if (state.stage === 'sales_review') return { code: 'in_review', message: `lead ${id} is in sales review` };
  const running = currentSequence(state, ctx.program);
  if (running.id === enrolment.sequence.id && running.steps[state.sequence.step] !== undefined) {
    return { code: 'in_sequence', message: `lead ${id} is already in ${sequenceLabel(state.sequence)} (step ${state.sequence.step})` };
  }
  return undefined;
}

/** Takes an enrolment `checkCampaignEnrolment` allowed: pins the campaign's sequences and starts the first. */
export function takeCampaign(state: LeadMachineState, enrolment: CampaignEnrolment, ctx: LeadContext): void {
  const incoming = [enrolment.sequence, ...(enrolment.sequences ?? [])];
  const ids = new Set(incoming.map((s) => s.id));
  // One pinned version per sequence id: the list stays bounded by the catalog's size.
  state.pinned = [...state.pinned.filter((s) => !ids.has(s.id)), ...incoming];
  // Keyed by template id, the latest pin winning: bounded by the catalog's templates.
  if (enrolment.templates) state.templates = { ...state.templates, ...enrolment.templates };
  const campaigns = [...(state.campaigns ?? []), enrolment.campaignId];
  state.campaigns = campaigns.length > CAMPAIGNS_KEPT ? campaigns.slice(campaigns.length - CAMPAIGNS_KEPT) : campaigns;
  const from = state.sequence;
  enrol(state, enrolment.sequence, ctx);
  note(state, ctx, 'sequence', `campaign ${enrolment.campaignId}: ${sequenceLabel(from)} ends at step ${from.step}; ${sequenceLabel(enrolment.sequence)} starts (enrolment ${state.sequence.enrolment})`);
}
