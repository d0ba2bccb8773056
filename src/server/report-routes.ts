import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../config.js';
import type { Pool } from '../infra/db.js';
import { GRADES } from '../domain/lead.js';
import { LeadIdSchema } from '../domain/lead-id.js';
import { MIN_SAMPLE } from '../domain/calibration.js';
import { checkProgramChange } from '../domain/simulation.js';
import { scoringReport } from '../leads/calibration.js';
import { simulationOf } from '../leads/simulation.js';
import { defaultProgram } from '../sequences/catalog.js';
import { FitModelSchema, type Program } from '../sequences/model.js';
import { HttpError } from './errors.js';
import { ErrorResponses, instant } from './schemas.js';

/** Leads a simulation may name in one request (the 64 KiB body limit holds about this many long ids). */
export const SIMULATION_LEADS_MAX = 400;

const ScoringQuery = z.object({ since: instant.optional().describe('only leads enrolled at or after this instant (default: all)') });

const count = z.number().int();
const share = z.number().nullable();
const RuleCalibration = z.object({
  rule: z.string().describe('the flat-table event type, or the conditional rule id'),
  eventType: z.string(),
  kind: z.enum(['flat', 'conditional']),
  currentPoints: z.number().int(),
  leads: count.describe('leads at least one of whose events scored by this rule'),
  escalated: count,
  accepted: count,
  rejected: count.describe('leads sales rejected at least once'),
  rejectedByReason: z.record(z.string(), count),
  won: count,
  acceptedRate: share.describe('share of the leads with the rule that sales accepted (or won)'),
  acceptedRateWithout: share.describe('the same share among the leads without the rule'),
  lift: share.describe('acceptedRate / acceptedRateWithout (docs/decisions.md); null when it cannot be computed'),
  suggestedPoints: z.number().int().nullable().describe('current points × lift, shrunk towards the current points for small samples, within ± the threshold'),
  sampleSize: z.object({ with: count, without: count }),
  warning: z.string().nullable().describe(`set when fewer than ${MIN_SAMPLE} leads had (or lacked) the rule, or the lift cannot be computed`),
});
export const ScoringReport = z.object({
  since: z.string().nullable(),
  minSample: count,
  rules: z.array(RuleCalibration),
  threshold: z.object({ points: count, leads: count, escalated: count, accepted: count, rejected: count, won: count, acceptanceRate: share }),
});

/**
 * The body of POST /v1/simulations under `program`. `scoring` takes any name, so that an unknown
 * one is refused by checkProgramChange with its own path (body.program.scoring.<name>); the
 * document lists the names the program knows and what each takes.
 */
function simulationBody(program: Program) {
  const names: Record<string, object> = {
    ...Object.fromEntries(Object.keys(program.scoring).map((type) => [type, { type: 'integer', minimum: 0, maximum: 100_000, description: `flat-table points of ${type} (now ${program.scoring[type]})` }])),
    ...Object.fromEntries((program.rules?.scoring ?? []).map((r) => [r.id, { type: 'integer', minimum: -100_000, maximum: 100_000, not: { const: 0 }, description: `points of the conditional rule ${r.id} (now ${r.points})` }])),
  };
  return z.strictObject({
    program: z
      .strictObject({
        threshold: z.number().int().positive().max(100_000).optional().describe(`sales-review threshold (now ${program.threshold})`),
        scoring: z
          .record(z.string().min(1).max(100), z.number().int().min(-100_000).max(100_000))
          .meta({ properties: names, additionalProperties: false })
          .optional()
          .describe('new points by flat-table event type (e.g. "product.compared") or conditional rule id'),
        fit: FitModelSchema.optional().describe("fit rules and grades replacing the program's"),
        minGrade: z.enum(GRADES).optional().describe('the grade sales review needs'),
      })
      .describe('what changes; {} replays the program as it is (every lead must then escalate as it did)'),
    since: instant.optional().describe('only leads enrolled at or after this instant'),
    leads: z.array(LeadIdSchema).min(1).max(SIMULATION_LEADS_MAX).optional().describe('only these leads'),
  });
}

export type SimulationRequest = z.input<ReturnType<typeof simulationBody>>;

const Change = z.enum(['earlier', 'later', 'new', 'gone', 'reviews']);
export const SimulationResult = z.object({
  leads: count.describe('leads replayed'),
  escalations: z.object({ now: count, simulated: count }).describe('reviews in all: as recorded, and under the changed program'),
  leadsEscalated: z.object({ now: count, simulated: count }),
  changed: z.array(
    z.object({
      leadId: z.string(),
      change: Change.describe('the first escalation earlier, later, new, gone; or the same first one and different later reviews'),
      now: z.string().nullable().describe('the first real escalation'),
      simulated: z.string().nullable().describe('the first escalation under the changed program'),
      escalationsNow: z.array(z.string()),
      escalationsSimulated: z.array(z.string()),
    }),
  ),
  newlyEscalated: count.describe('leads that escalate earlier than they did, or that never did'),
  acceptedAmongNew: count.describe('of those, leads sales actually accepted'),
  rejectedAmongNew: count,
  wonAmongNew: count,
  unreproduced: z.array(z.object({ leadId: z.string(), reason: z.string() })).describe('leads whose own program did not replay into their real escalations (docs/decisions.md: the limits)'),
});

/** The read side of sales results: the scoring calibration report and what-if simulations. */
export async function registerReportRoutes(
  root: FastifyInstance,
  deps: { pool: Pool; program?: Program; roles: (allowed: readonly Role[]) => RouteShorthandOptions },
): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const program = deps.program ?? defaultProgram;
  app.get(
    '/v1/reports/scoring',
    {
      ...deps.roles(['marketing', 'sales']),
      schema: {
        summary: 'Scoring calibration: per scoring rule, how its leads fared with sales, the lift against leads without it, and suggested points',
        tags: ['reports'],
        querystring: ScoringQuery,
        response: { 200: ScoringReport, ...ErrorResponses },
      },
    },
    async (request) => scoringReport(deps.pool, program, request.query.since ? { since: new Date(request.query.since) } : {}),
  );
  app.post(
    '/v1/simulations',
    {
      ...deps.roles(['marketing']),
      schema: {
        summary: 'What-if: replay past leads through the lead machine with a changed threshold, points or fit rules',
        description:
          'Replays the recorded events and sales decisions of the leads in scope through the same pure lead machine the workflows run, under their program and under the changed one, and reports which leads would escalate earlier, later, newly or not at all, and what sales actually decided on the newly escalated. Nothing is changed.',
        tags: ['reports'],
        body: simulationBody(program),
        response: { 200: SimulationResult, ...ErrorResponses },
      },
    },
    async (request) => {
      const { program: change, since, leads } = request.body;
      const problems = checkProgramChange(program, change);
      if (problems.length) throw new HttpError(400, 'validation_failed', `invalid request: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
      return simulationOf(deps.pool, program, change, { ...(since ? { since: new Date(since) } : {}), ...(leads ? { leadIds: leads } : {}) });
    },
  );
}
