import type { LeadStage } from './lead.js';

/** Fit grades, best first. */
export const GRADES = ['A', 'B', 'C', 'D'] as const;
export type Grade = (typeof GRADES)[number];

/**
 * A segment: which leads a campaign goes to, as a pure description over the read model. Every
 * part narrows (they combine with AND); an empty segment is every lead. Validated at the edge
 * (src/server), compiled to SQL in src/leads/segment.ts.
 */
export interface Segment {
  stages?: LeadStage[];
  scoreMin?: number;
  scoreMax?: number;
  /** Fit grades (A–D); a lead without a grade matches none. */
  grades?: Grade[];
  /** Attribute equality: each key's value equals the given JSON value. */
  attributes?: Record<string, string | number | boolean>;
  /** No engagement for this long (e.g. "30 days"): no event occurred since, and the lead is at least that old. */
  inactiveFor?: string;
  leadIds?: string[];
}

/** One line for people (the Temporal UI's summary, the console): what the segment selects. */
export function describeSegment(segment: Segment): string {
  const parts: string[] = [];
  if (segment.stages?.length) parts.push(`stage ${segment.stages.join('/')}`);
  if (segment.scoreMin !== undefined && segment.scoreMax !== undefined) parts.push(`score ${segment.scoreMin}–${segment.scoreMax}`);
  else if (segment.scoreMin !== undefined) parts.push(`score ≥ ${segment.scoreMin}`);
  else if (segment.scoreMax !== undefined) parts.push(`score ≤ ${segment.scoreMax}`);
  if (segment.grades?.length) parts.push(`grade ${segment.grades.join('/')}`);
  for (const [key, value] of Object.entries(segment.attributes ?? {})) parts.push(`${key} = ${JSON.stringify(value)}`);
  if (segment.inactiveFor) parts.push(`quiet for ${segment.inactiveFor}`);
  if (segment.leadIds?.length) parts.push(`${segment.leadIds.length} named lead${segment.leadIds.length === 1 ? '' : 's'}`);
  return parts.length ? parts.join(' · ') : 'every lead';
}
