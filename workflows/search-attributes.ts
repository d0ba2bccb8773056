import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair, type SearchAttributeUpdatePair, type TypedSearchAttributes } from '@temporalio/common';
import type { Grade, LeadStage } from '../src/domain/lead.js';
import type { SearchAttributeValues } from '../src/domain/lead/state.js';

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

/** Fit grade A–D from the program's fit rules (absent without them). */
export const LeadGradeKey = defineSearchAttributeKey('LeadGrade', SearchAttributeType.KEYWORD);

/** Every custom search attribute of a lead; servers must have them registered. */
export const leadSearchAttributes = [LeadStageKey, LeadScoreKey, LeadSequenceKey, LeadReviewCountKey, LeadUnsubscribedKey, LeadOwnerKey, LeadGradeKey] as const;

/** The lead machine's changed values as the pairs `upsertSearchAttributes` takes (an owner of null removes the attribute). */
export function attributePairs(changes: Partial<SearchAttributeValues>): SearchAttributeUpdatePair[] {
  const pairs: SearchAttributeUpdatePair[] = [];
  if (changes.stage !== undefined) pairs.push({ key: LeadStageKey, value: changes.stage });
  if (changes.score !== undefined) pairs.push({ key: LeadScoreKey, value: changes.score });
  if (changes.sequence !== undefined) pairs.push({ key: LeadSequenceKey, value: changes.sequence });
  if (changes.reviewCount !== undefined) pairs.push({ key: LeadReviewCountKey, value: changes.reviewCount });
  if (changes.unsubscribed !== undefined) pairs.push({ key: LeadUnsubscribedKey, value: changes.unsubscribed });
  if (changes.owner !== undefined) pairs.push({ key: LeadOwnerKey, value: changes.owner });
  if (changes.grade !== undefined) pairs.push({ key: LeadGradeKey, value: changes.grade });
  return pairs;
}

/** The values a lead is started with (start options), as the lead machine knows them. */
export function attributesAtStart(typed: TypedSearchAttributes): Partial<SearchAttributeValues> {
  const values: Partial<SearchAttributeValues> = {};
  const stage = typed.get(LeadStageKey);
  if (stage !== undefined) values.stage = stage as LeadStage;
  const score = typed.get(LeadScoreKey);
  if (score !== undefined) values.score = score;
  const sequence = typed.get(LeadSequenceKey);
  if (sequence !== undefined) values.sequence = sequence;
  const reviewCount = typed.get(LeadReviewCountKey);
  if (reviewCount !== undefined) values.reviewCount = reviewCount;
  const unsubscribed = typed.get(LeadUnsubscribedKey);
  if (unsubscribed !== undefined) values.unsubscribed = unsubscribed;
  const grade = typed.get(LeadGradeKey);
  if (grade !== undefined) values.grade = grade as Grade;
  return values;
}

/** The search attributes a new lead starts with (client start options, its grade when graded): its first workflow task upserts none. */
export function startAttributes(sequence: { id: string; version: number }, grade: Grade | null = null): SearchAttributePair[] {
  return [
    ...(grade ? [{ key: LeadGradeKey, value: grade }] : []),
    { key: LeadStageKey, value: 'nurturing' },
    { key: LeadScoreKey, value: 0 },
    { key: LeadSequenceKey, value: `${sequence.id}@v${sequence.version}` },
    { key: LeadReviewCountKey, value: 0 },
    { key: LeadUnsubscribedKey, value: false },
  ];
}
