import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Stage of the lead (nurturing, sales_review, accepted, disqualified): filter leads in the Temporal UI. */
export const LeadStageKey = defineSearchAttributeKey('LeadStage', SearchAttributeType.KEYWORD);
/** Current engagement score. */
export const LeadScoreKey = defineSearchAttributeKey('LeadScore', SearchAttributeType.INT);
/** `<sequenceId>@v<version>` the lead is currently running. */
export const LeadSequenceKey = defineSearchAttributeKey('LeadSequence', SearchAttributeType.KEYWORD);

/** How many times the lead went to sales review. */
export const LeadReviewCountKey = defineSearchAttributeKey('LeadReviewCount', SearchAttributeType.INT);
/** Whether the lead asked for no more marketing email. */
export const LeadUnsubscribedKey = defineSearchAttributeKey('LeadUnsubscribed', SearchAttributeType.BOOL);
/** Salesperson who owns the lead in review, once owners are assigned. */
export const LeadOwnerKey = defineSearchAttributeKey('LeadOwner', SearchAttributeType.KEYWORD);

/** Every custom search attribute of a lead; servers must have them registered. */
export const leadSearchAttributes = [LeadStageKey, LeadScoreKey, LeadSequenceKey, LeadReviewCountKey, LeadUnsubscribedKey, LeadOwnerKey] as const;
