import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../config.js';
import { LEAD_STAGES } from '../domain/lead.js';
import { GRADES } from '../domain/segment.js';
import { LeadIdSchema } from '../domain/lead-id.js';
import { COUNTED_SKIP_REASONS, type CampaignService } from '../leads/campaigns.js';
import { SAMPLE_SIZE } from '../leads/segment.js';
import { sequences } from '../sequences/catalog.js';
import { DurationSchema } from '../sequences/model.js';
import { ErrorResponses } from './schemas.js';

/** Default enrolment rate of a campaign (leads per second). */
export const DEFAULT_RATE_PER_SECOND = 20;

const CampaignId = z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'campaign ids use only A-Za-z0-9 . _ -');

/** A segment: strict, so a misspelt filter ("stage") is a 400, never a campaign to everyone. */
export const SegmentSchema = z
  .strictObject({
    stages: z.array(z.enum(LEAD_STAGES)).min(1).optional().describe('leads in one of these stages'),
    scoreMin: z.number().int().min(0).optional().describe('score at least this (the read model, a moment behind the workflow)'),
    scoreMax: z.number().int().min(0).optional().describe('score at most this'),
    grades: z.array(z.enum(GRADES)).min(1).optional().describe('fit grade one of these; a lead without a grade matches none'),
    attributes: z
      .record(z.string().min(1).max(100).regex(/^[^\u0000]*$/), z.union([z.string().max(500), z.number(), z.boolean()]))
      .refine((a) => Object.keys(a).length <= 20, 'at most 20 attributes')
      .optional()
      .describe('each attribute equals this value (JSON equality: "20" is not 20)'),
    inactiveFor: DurationSchema.optional().describe('no engagement event occurred for this long, e.g. "30 days" (a lead with none: created at least that long ago)'),
    leadIds: z.array(LeadIdSchema).min(1).max(400).optional().describe('only these leads'),
  })
  .refine((s) => s.scoreMin === undefined || s.scoreMax === undefined || s.scoreMin <= s.scoreMax, { message: 'scoreMin is at most scoreMax', path: ['scoreMax'] });

const Body = z
  .object({
    id: CampaignId.optional().describe('required unless dryRun; a repeated POST with the same body is safe, another body under the same id is 409'),
    sequence: z.string().max(100).meta({ enum: Object.keys(sequences) }).optional().describe('required unless dryRun'),
    segment: SegmentSchema,
    ratePerSecond: z.number().int().min(1).max(1000).default(DEFAULT_RATE_PER_SECOND).describe('leads enrolled per second at most'),
    dryRun: z.boolean().default(false).describe(`only count the segment and show up to ${SAMPLE_SIZE} of its lead ids`),
  })
  .superRefine((body, ctx) => {
    if (body.dryRun) return;
    if (body.id === undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: 'a campaign needs an id (unless dryRun)' });
    if (body.sequence === undefined) ctx.addIssue({ code: 'custom', path: ['sequence'], message: 'a campaign needs a sequence (unless dryRun)' });
  });

const Skipped = z.object(Object.fromEntries(COUNTED_SKIP_REASONS.map((r) => [r, z.number().int()])) as Record<(typeof COUNTED_SKIP_REASONS)[number], z.ZodNumber>);

export const Campaign = z.object({
  id: z.string(),
  workflowId: z.string().describe('campaign-<id>: its workflow in the Temporal UI (progress in its current details)'),
  sequence: z.string(),
  sequenceVersion: z.number().int(),
  segment: SegmentSchema.describe('the segment as given (arrays sorted)'),
  description: z.string().describe('the segment in words'),
  ratePerSecond: z.number().int(),
  status: z.enum(['running', 'completed', 'cancelled']),
  matched: z.number().int().describe('leads the segment matched when the campaign started'),
  enrolled: z.number().int(),
  skipped: Skipped.describe('leads skipped, by reason: in sales review, closed (accepted or disqualified), unsubscribed, already in that sequence'),
  failed: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});
const DryRun = z.object({ matched: z.number().int(), sample: z.array(z.string()) });
const Started = z.object({ id: z.string(), status: z.enum(['running', 'completed', 'cancelled']), matched: z.number().int() });
const Params = z.object({ id: CampaignId });

/** Marketing's campaign routes: dry run and start, progress, cancel. */
export async function registerCampaignRoutes(
  root: FastifyInstance,
  deps: { campaigns: CampaignService; roles: (allowed: readonly Role[]) => RouteShorthandOptions },
): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/campaigns',
    {
      ...deps.roles(['marketing']),
      schema: {
        summary: 'Send a segment of leads into a sequence (a durable campaign workflow), or count the segment (dryRun)',
        tags: ['campaigns'],
        body: Body,
        response: { 200: DryRun, 202: Started, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { id, sequence, segment, ratePerSecond, dryRun } = request.body;
      if (dryRun) return reply.status(200).send(await deps.campaigns.dryRun(segment));
      const campaign = await deps.campaigns.create({ id: id!, sequence: sequence!, segment, ratePerSecond });
      return reply.status(202).send({ id: campaign.id, status: campaign.status, matched: campaign.matched });
    },
  );
  app.get(
    '/v1/campaigns',
    {
      ...deps.roles(['marketing', 'sales']),
      schema: { summary: 'The latest 50 campaigns, newest first', tags: ['campaigns'], response: { 200: z.object({ campaigns: z.array(Campaign) }), ...ErrorResponses } },
    },
    async () => ({ campaigns: await deps.campaigns.list() }),
  );
  app.get(
    '/v1/campaigns/:id',
    {
      ...deps.roles(['marketing', 'sales']),
      schema: { summary: "A campaign's progress", tags: ['campaigns'], params: Params, response: { 200: Campaign, ...ErrorResponses } },
    },
    async (request) => deps.campaigns.get(request.params.id),
  );
  app.post(
    '/v1/campaigns/:id/cancel',
    {
      ...deps.roles(['marketing']),
      schema: {
        summary: 'Stop a campaign after its page in flight; leads already enrolled stay enrolled',
        tags: ['campaigns'],
        params: Params,
        response: { 200: Campaign, ...ErrorResponses },
      },
    },
    async (request) => deps.campaigns.cancel(request.params.id),
  );
}
