import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import type { ApiKey, Role } from '../config.js';
import type { Pool } from '../infra/db.js';
import type { Metrics } from '../infra/metrics.js';
import { readMailbox } from '../infra/smtp-sink.js';
import { funnelReport } from '../leads/funnel.js';
import { LeadService } from '../leads/service.js';
import type { Program } from '../sequences/model.js';
import { Authenticator } from './auth.js';
import { sendError, toErrorResponse } from './errors.js';
import * as S from './schemas.js';

export interface AppDeps {
  client: Client;
  pool: Pool;
  apiKeys: ApiKey[];
  /** The program new leads are enrolled with (default: the catalog's, DESIGN.md numbers). */
  program?: Program;
  /** A pino logger; none means silent (tests). */
  logger?: FastifyBaseLogger;
  /** Serve `GET /v1/dev/mailbox` (only with the embedded SMTP sink). */
  devMailbox?: boolean;
  /** Prometheus metrics to count into and serve at `/metrics`. */
  metrics?: Metrics;
}

/** Request bodies above this are refused with 413 (DESIGN.md). */
const BODY_LIMIT = 64 * 1024;

const ALL_ROLES: Role[] = ['ingest', 'marketing', 'sales', 'admin'];

const errorResponses = {
  400: S.ErrorBody,
  401: S.ErrorBody,
  403: S.ErrorBody,
  404: S.ErrorBody,
  409: S.ErrorBody,
  413: S.ErrorBody,
};

/** Builds the HTTP API v1 over the lead service. Listening is the caller's business. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  return buildTypedApp(deps) as unknown as Promise<FastifyInstance>;
}

async function buildTypedApp(deps: AppDeps) {
  // Fastify's request serializer logs method and URL, never headers: API keys stay out of logs.
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Leadflow API',
        version: '1.0.0',
        description: 'Lead nurturing as durable workflows: enrol leads, report engagement, decide on leads in sales review.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'role:key pairs from LEADS_API_KEYS' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const auth = new Authenticator(deps.apiKeys);
  const leads = new LeadService({ client: deps.client, pool: deps.pool, ...(deps.program ? { program: deps.program } : {}) });
  const roles = (allowed: readonly Role[]) => ({
    onRequest: async (request: { headers: { authorization?: string } }) => {
      auth.authorize(request.headers.authorization, allowed);
    },
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error, request);
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, { error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  /** Asks each dependency for a sign of life; a failure names the dependency and the error. */
  const dependencyChecks = async (): Promise<Record<string, string>> => {
    const checks: Record<string, string> = {};
    await deps.pool.query('SELECT 1').then(
      () => (checks.postgres = 'ok'),
      (e: Error) => (checks.postgres = e.message),
    );
    await deps.client.connection.workflowService.getSystemInfo({}).then(
      () => (checks.temporal = 'ok'),
      (e: Error) => (checks.temporal = e.message),
    );
    return checks;
  };
  // /healthz for liveness probes, /readyz for load balancers: both 503 when a dependency is down.
  for (const url of ['/healthz', '/readyz']) {
    app.get(url, { schema: { hide: true, response: { 200: S.Health, 503: S.Health } } }, async (_request, reply) => {
      const checks = await dependencyChecks();
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
    });
  }

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.post(
    '/v1/leads',
    {
      ...roles(['ingest', 'marketing']),
      schema: {
        summary: 'Enrol a lead (idempotent on id)',
        tags: ['leads'],
        body: S.CreateLeadBody,
        response: { 200: S.LeadCreated, 201: S.LeadCreated, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { created, ...lead } = await leads.create(request.body);
      return reply.status(created ? 201 : 200).send(lead);
    },
  );

  app.post(
    '/v1/leads/:id/events',
    {
      ...roles(['ingest']),
      schema: {
        summary: 'Report an engagement event (dedupe on eventId)',
        tags: ['leads'],
        params: S.LeadIdParams,
        body: S.EventBody,
        response: { 202: S.EventAccepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await leads.recordEvent(request.params.id, request.body);
      metrics?.eventsIngested.inc({ type: request.body.type, duplicate: String(result.duplicate) });
      return reply.status(202).send(result);
    },
  );

  app.get(
    '/v1/leads/:id',
    {
      ...roles(ALL_ROLES),
      schema: { summary: "A lead's state and history", tags: ['leads'], params: S.LeadIdParams, response: { 200: S.LeadDetail, ...errorResponses } },
    },
    async (request) => leads.get(request.params.id),
  );

  app.get(
    '/v1/leads',
    {
      ...roles(ALL_ROLES),
      schema: {
        summary: 'List leads; with stage=sales_review this is the review queue, longest waiting first',
        tags: ['leads'],
        querystring: S.ListLeadsQuery,
        response: { 200: S.LeadList, ...errorResponses },
      },
    },
    async (request) => ({ leads: await leads.list(request.query) }),
  );

  app.post(
    '/v1/leads/:id/accept',
    {
      ...roles(['sales']),
      schema: {
        summary: 'Accept a lead in sales review (terminal)',
        tags: ['decisions'],
        params: S.LeadIdParams,
        body: S.AcceptBody,
        response: { 200: S.DecisionResult, ...errorResponses },
      },
    },
    async (request) => {
      const result = await leads.accept(request.params.id, request.body);
      metrics?.decisions.inc({ decision: result.stage === 'nurturing' ? 'rejected' : result.stage });
      return result;
    },
  );

  app.post(
    '/v1/leads/:id/reject',
    {
      ...roles(['sales']),
      schema: {
        summary: 'Reject a lead in sales review with a reason: it goes back to nurturing',
        tags: ['decisions'],
        params: S.LeadIdParams,
        body: S.RejectBody,
        response: { 200: S.DecisionResult, ...errorResponses },
      },
    },
    async (request) => {
      const result = await leads.reject(request.params.id, request.body);
      metrics?.decisions.inc({ decision: result.stage === 'nurturing' ? 'rejected' : result.stage });
      return result;
    },
  );

  app.post(
    '/v1/leads/:id/disqualify',
    {
      ...roles(['sales']),
      schema: {
        summary: 'Disqualify a lead for good (spam, competitor, duplicate)',
        tags: ['decisions'],
        params: S.LeadIdParams,
        body: S.DisqualifyBody,
        response: { 200: S.DecisionResult, ...errorResponses },
      },
    },
    async (request) => {
      const result = await leads.disqualify(request.params.id, request.body);
      metrics?.decisions.inc({ decision: result.stage === 'nurturing' ? 'rejected' : result.stage });
      return result;
    },
  );

  app.post(
    '/v1/leads/:id/unsubscribe',
    {
      ...roles(['ingest', 'marketing']),
      schema: {
        summary: 'Stop marketing email to a lead (the lead is kept)',
        tags: ['leads'],
        params: S.LeadIdParams,
        response: { 200: S.Unsubscribed, ...errorResponses },
      },
    },
    async (request) => leads.unsubscribe(request.params.id),
  );

  app.get(
    '/v1/funnel',
    { ...roles(['marketing', 'sales']), schema: { summary: 'Funnel metrics', tags: ['reports'], response: { 200: S.Funnel, ...errorResponses } } },
    async () => funnelReport(deps.pool),
  );

  if (deps.devMailbox) {
    app.get(
      '/v1/dev/mailbox',
      {
        ...roles(ALL_ROLES),
        schema: {
          summary: 'Messages the embedded SMTP sink received (development only)',
          tags: ['dev'],
          querystring: S.MailboxQuery,
          response: { 200: S.Mailbox, ...errorResponses },
        },
      },
      async (request) => ({ messages: await readMailbox(deps.pool, request.query) }),
    );
  }

  return app;
}
