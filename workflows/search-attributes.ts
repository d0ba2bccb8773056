import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Stage of the lead (nurturing, sales_review, accepted, disqualified): filter leads in the Temporal UI. */
export const LeadStageKey = defineSearchAttributeKey('LeadStage', SearchAttributeType.KEYWORD);
/** Current engagement score. */
export const LeadScoreKey = defineSearchAttributeKey('LeadScore', SearchAttributeType.INT);
/** `<sequenceId>@v<version>` the lead is currently running. */
export const LeadSequenceKey = defineSearchAttributeKey('LeadSequence', SearchAttributeType.KEYWORD);

/** Every custom search attribute the lead workflow upserts; servers must have them registered. */
export const leadSearchAttributes = [LeadStageKey, LeadScoreKey, LeadSequenceKey] as const;
