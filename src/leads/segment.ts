import type { Pool } from '../infra/db.js';
import { parseDuration } from '../domain/duration.js';
import type { Segment } from '../domain/segment.js';

/**
 * Segments compiled to SQL over the read model (`leads`, and `lead_events` for inactivity). One
 * constant statement: a part the segment leaves out is a NULL parameter that filters nothing.
 */
const SEGMENT_WHERE = `
      l.erased_at IS NULL
  AND ($1::text[] IS NULL OR l.stage = ANY($1::text[]))
  AND ($2::int IS NULL OR l.score >= $2::int)
  AND ($3::int IS NULL OR l.score <= $3::int)
  AND ($4::text[] IS NULL OR l.grade = ANY($4::text[]))
  AND ($5::jsonb IS NULL OR NOT EXISTS (SELECT 1 FROM jsonb_each($5::jsonb) a WHERE (l.attributes -> a.key) IS DISTINCT FROM a.value))
  AND (CASE WHEN $6::double precision IS NULL THEN true
            ELSE coalesce((SELECT max(e.occurred_at) FROM lead_events e WHERE e.lead_id = l.id), l.created_at)
                 < now() - make_interval(secs => $6::double precision / 1000) END)
  AND ($7::text[] IS NULL OR l.id = ANY($7::text[]))`;

/** The segment's leads after `$8` (null: from the start), by id, at most `$9`. */
const SEGMENT_PAGE = `SELECT l.id FROM leads l WHERE ${SEGMENT_WHERE} AND ($8::text IS NULL OR l.id > $8::text) ORDER BY l.id LIMIT $9`;
const SEGMENT_COUNT = `SELECT count(*)::int AS n FROM leads l WHERE ${SEGMENT_WHERE}`;

/** How many lead ids a dry run shows. */
export const SAMPLE_SIZE = 20;

function parameters(segment: Segment): unknown[] {
  const inactiveMs = segment.inactiveFor === undefined ? null : (parseDuration(segment.inactiveFor) ?? null);
  return [
    segment.stages ?? null,
    segment.scoreMin ?? null,
    segment.scoreMax ?? null,
    segment.grades ?? null,
    segment.attributes && Object.keys(segment.attributes).length ? JSON.stringify(segment.attributes) : null,
    inactiveMs,
    segment.leadIds ?? null,
  ];
}

/** One page of the segment in a stable order (keyset pagination by lead id). */
export async function segmentPage(pool: Pool, segment: Segment, page: { after: string | null; limit: number }): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(SEGMENT_PAGE, [...parameters(segment), page.after, page.limit]);
  return rows.map((r) => r.id);
}

/** The dry run: how many leads match now, and the first of them. */
export async function segmentDryRun(pool: Pool, segment: Segment): Promise<{ matched: number; sample: string[] }> {
  const [count, sample] = await Promise.all([pool.query<{ n: number }>(SEGMENT_COUNT, parameters(segment)), segmentPage(pool, segment, { after: null, limit: SAMPLE_SIZE })]);
  return { matched: count.rows[0]!.n, sample };
}
