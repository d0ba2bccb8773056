import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Role } from '../config.js';
import type { WebhookEndpoints } from '../leads/webhooks.js';
import * as S from './schemas.js';

const STANDARD_WEBHOOKS =
  'Deliveries follow the Standard Webhooks specification: POST of { type, timestamp, data } with headers webhook-id (the same on every attempt of a delivery), webhook-timestamp and webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the base64-decoded part of the secret after whsec_>. At least once, retried with back-off (1 s doubling, capped at 1 h) for a day.';

/** Admins' outbound webhook endpoints: create (secret shown once), list, delete, deliveries. */
export async function registerWebhookEndpointRoutes(
  app: FastifyInstance,
  deps: { endpoints: WebhookEndpoints; roles: (allowed: readonly Role[]) => RouteShorthandOptions },
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const admin = deps.roles(['admin']);

  api.post(
    '/v1/webhook-endpoints',
    {
      ...admin,
      schema: {
        summary: 'Subscribe an endpoint to lead events; the answer holds its signing secret, this once',
        description: STANDARD_WEBHOOKS,
        tags: ['webhooks'],
        body: S.CreateWebhookEndpointBody,
        response: { 201: S.WebhookEndpointCreated, ...S.ErrorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await deps.endpoints.create(request.body)),
  );

  api.get(
    '/v1/webhook-endpoints',
    { ...admin, schema: { summary: 'The webhook endpoints (never their secrets)', tags: ['webhooks'], response: { 200: S.WebhookEndpointList, ...S.ErrorResponses } } },
    async () => ({ endpoints: await deps.endpoints.list() }),
  );

  api.delete(
    '/v1/webhook-endpoints/:id',
    {
      ...admin,
      schema: {
        summary: 'Delete an endpoint: no new deliveries, pending ones stop at their next attempt',
        tags: ['webhooks'],
        params: S.WebhookEndpointIdParams,
        response: { 204: S.NoContent, ...S.ErrorResponses },
      },
    },
    async (request, reply) => {
      await deps.endpoints.delete(request.params.id);
      return reply.status(204).send(null);
    },
  );

  api.get(
    '/v1/webhook-endpoints/:id/deliveries',
    {
      ...admin,
      schema: {
        summary: "An endpoint's latest deliveries (100, newest first), each with its status and every attempt",
        tags: ['webhooks'],
        params: S.WebhookEndpointIdParams,
        response: { 200: S.WebhookDeliveries, ...S.ErrorResponses },
      },
    },
    async (request) => ({ deliveries: await deps.endpoints.deliveries(request.params.id) }),
  );
}
