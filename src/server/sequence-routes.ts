import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../config.js';
import { LeadIdSchema } from '../domain/lead-id.js';
import type { LeadService } from '../leads/service.js';
import { sequences } from '../sequences/catalog.js';
import { ErrorResponses } from './schemas.js';

// The catalog's sequences are listed in the document; the service refuses others (404 naming the choices).
const Params = z.object({ id: z.string().regex(/^[a-z0-9-]+$/).max(100).meta({ enum: Object.keys(sequences) }) });
const Body = z.object({
  leadIds: z.array(LeadIdSchema).min(1).max(400).optional().describe('only these leads, at most 400 a call, which keeps the body under the 64 KiB limit (default: every in-flight lead on an older version)'),
});
const Result = z.object({
  sequence: z.string(),
  version: z.number().int().describe('the version the leads move to: the one new enrolments get'),
  signalled: z.array(z.string()).describe('leads asked to migrate; each switches at its next wait, and its timeline says so'),
});

/** Marketing's routes over sequences: moving in-flight leads to the current version. */
export async function registerSequenceRoutes(
  root: FastifyInstance,
  deps: { leads: LeadService; roles: (allowed: readonly Role[]) => RouteShorthandOptions },
): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/sequences/:id/migrate',
    {
      ...deps.roles(['marketing']),
      schema: {
        summary: 'Move in-flight leads of a sequence to its current version, at their next wait (new enrolments get it anyway)',
        tags: ['sequences'],
        params: Params,
        body: Body,
        response: { 200: Result, ...ErrorResponses },
      },
    },
    async (request) => deps.leads.migrateSequence(request.params.id, request.body.leadIds ? { leadIds: request.body.leadIds } : {}),
  );
}
