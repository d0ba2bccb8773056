import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import { DEV_TRACKING_SECRET, type ApiKey, type Role } from '../config.js';
import type { Pool } from '../infra/db.js';
import { renderMetrics, type Metrics } from '../infra/metrics.js';
import { readMailbox } from '../infra/smtp-sink.js';
import { funnelReport } from '../leads/funnel.js';
import { leadWorkflowId, REJECT_REASONS } from '../domain/lead.js';
import { LeadService } from '../leads/service.js';
import type { Program } from '../sequences/model.js';
import { Authenticator } from './auth.js';
import { CONSOLE_CSP, CONSOLE_PATH, consoleFiles } from './console.js';
import { recordEventBatch } from './event-batch.js';
import { HttpError, sendError, toErrorResponse } from './errors.js';
import * as S from './schemas.js';
import { registerSequenceRoutes } from './sequence-routes.js';
import { registerTrackingRoutes } from './tracking-routes.js';
import { claimDelivery, releaseDelivery, SIGNATURE_HEADER, WebhookVerifier, type VerifiedDelivery } from './webhook.js';

/** Who may call a route. Every route declares one; building the app fails for a route that does not. */
/** Who may call a route: anyone, an API key with a role, a signed webhook, or a signed link token (tracking, unsubscribe). */
export type RouteAccess = { kind: 'public' } | { kind: 'key'; roles: readonly Role[] } | { kind: 'signature' } | { kind: 'token' };

export interface RouteInfo {
  method: string;
  url: string;
  access: RouteAccess;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyInstance {
    /** Every route with its declared access, in registration order (the auth tests walk it). */
    routeTable: RouteInfo[];
  }
}

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
  /** Secrets for `POST /v1/webhooks/events`; without any, that route does not exist. */
  webhook?: { secrets: string[]; toleranceSeconds: number };
  /** Requests per window per API key (per client address without one); absent or max 0: no limit. */
  rateLimit?: { max: number; windowSeconds: number };
  /** Serve the web console built into this folder under /console/ (src/server/console.ts). */
  console?: { dir: string };
  /** The Temporal Web UI the console links each lead's workflow to. */
  temporalUi?: { url: string; namespace: string };
  /** Secret of the tracking and unsubscribe links (TRACKING_SECRET); default: the development secret. */
  trackingSecret?: string;
}

/** Request bodies above this are refused with 413 (DESIGN.md). */
const BODY_LIMIT = 64 * 1024;
/** The batch and webhook routes carry up to 500 events: they get more room. */
const BATCH_BODY_LIMIT = 1024 * 1024;

const ALL_ROLES: Role[] = ['ingest', 'marketing', 'sales', 'admin'];

const LOST_RACE =
  '409 not_in_review when the lead is not (or no longer) in sales review; its details name the lead\'s stage and the decision that closed its latest review: { stage, decision: { reviewNo, decision, reason, by, at } }, so whoever lost a race learns who won.';

const errorResponses = {
  400: S.ErrorBody,
  401: S.ErrorBody,
  403: S.ErrorBody,
  404: S.ErrorBody,
  409: S.ErrorBody,
  413: S.ErrorBody,
  415: S.ErrorBody,
  429: S.ErrorBody,
};

/**
 * The web console's files, each at its own public route (the data behind it needs a key): the
 * built index at /console/, hashed assets under /console/assets/ cached for good, and / and
 * /console redirecting there. Not built: /console/ says how to build it.
 */
async function registerConsole(app: FastifyInstance, dir: string, open: { config: { access: RouteAccess } }): Promise<void> {
  const files = consoleFiles(dir);
  await app.register(fastifyStatic, { root: dir, serve: false });
  for (const url of ['/', CONSOLE_PATH.slice(0, -1)]) {
    app.get(url, { ...open, schema: { hide: true } }, (_request, reply) => reply.redirect(CONSOLE_PATH));
  }
  if (files.size === 0) {
    app.get(CONSOLE_PATH, { ...open, schema: { hide: true } }, (_request, reply) =>
      reply.status(503).type('text/plain; charset=utf-8').send('The web console is not built. Run `npm run console:build` (or `npm install`) and restart.\n'),
    );
    return;
  }
  for (const [url, file] of files) {
    const immutable = url.startsWith(`${CONSOLE_PATH}assets/`);
    app.get(url, { ...open, schema: { hide: true } }, (_request, reply) => {
      reply.header('content-security-policy', CONSOLE_CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
      if (!immutable) reply.header('cache-control', 'no-cache');
      return reply.sendFile(file, immutable ? { immutable: true, maxAge: '365d' } : { cacheControl: false });
    });
  }
}

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
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'role:key pairs from LEADS_API_KEYS' },
          webhookSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'Leadflow-Signature',
            description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with a secret from WEBHOOK_SECRETS; valid for WEBHOOK_TOLERANCE_SECONDS, once',
          },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const routeTable: RouteInfo[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access: set config.access`);
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url, access });
  });

  // Every log line about a lead carries its id and workflow id, so ops can follow one lead
  // from the API logs to the worker logs to the Temporal UI.
  app.addHook('preHandler', async (request, reply) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string') {
      request.log = request.log.child({ leadId: id, workflowId: leadWorkflowId(id) });
      // Fastify writes "request completed" through the reply's logger.
      reply.log = request.log;
    }
  });

  const auth = new Authenticator(deps.apiKeys);
  const leads = new LeadService({ client: deps.client, pool: deps.pool, ...(deps.program ? { program: deps.program } : {}) });

  // Rate limit per API key (its roles and digest, never the key), or per address without a valid
  // key; it runs before authorization so that guessing keys is throttled too.
  await app.register(rateLimit, {
    global: false,
    max: deps.rateLimit?.max ?? 0,
    timeWindow: (deps.rateLimit?.windowSeconds ?? 60) * 1000,
    keyGenerator: (request) => {
      const caller = auth.identify(request.headers.authorization);
      if (caller) return `key:${caller.keyId}`;
      return `${request.routeOptions.config.access?.kind === 'signature' ? 'webhook' : 'address'}:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `too many requests: at most ${context.max} per ${deps.rateLimit?.windowSeconds ?? 60} s for this key; retry in ${context.after}`, {
        limit: context.max,
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });
  const limited = deps.rateLimit?.max ? [app.rateLimit()] : [];

  const open = { config: { access: { kind: 'public' } as RouteAccess } };
  const roles = (allowed: readonly Role[]) => ({
    config: { access: { kind: 'key', roles: allowed } as RouteAccess },
    onRequest: [
      ...limited,
      async (request: FastifyRequest) => {
        auth.authorize(request.headers.authorization, allowed);
      },
    ],
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
    app.get('/metrics', { ...open, schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await renderMetrics(metrics)),
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
    app.get(url, { ...open, schema: { hide: true, response: { 200: S.Health, 503: S.Health } } }, async (_request, reply) => {
      const checks = await dependencyChecks();
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
    });
  }

  app.get('/openapi.json', { ...open, schema: { hide: true } }, async () => app.swagger());

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

  const countAccepted = (event: S.BatchEvent) => metrics?.eventsIngested.inc({ type: event.type, duplicate: 'false' });

  app.post(
    '/v1/events',
    {
      ...roles(['ingest']),
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        summary: 'Report up to 500 engagement events at once; each is accepted or refused with its own reason',
        description:
          'Items are validated and recorded one by one (one lead\'s events in the order sent). Refusal reasons: validation_failed, unknown_event_type, lead_not_found, duplicate_event (already recorded or repeated in the batch: safe to treat as delivered), internal (send that item again). Bodies up to 1 MiB.',
        tags: ['events'],
        body: S.EventBatchBody,
        response: { 202: S.BatchResult, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(202).send(await recordEventBatch(leads, request.body.events, { log: request.log, onAccepted: countAccepted })),
  );

  if (deps.webhook?.secrets.length) {
    const verifier = new WebhookVerifier(deps.webhook.secrets, deps.webhook.toleranceSeconds);
    const deliveries = new WeakMap<FastifyRequest, VerifiedDelivery>();
    // Its own scope: JSON arrives as raw bytes, because the signature covers the bytes as sent.
    await app.register(async (scope) => {
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      scope.withTypeProvider<ZodTypeProvider>().post(
        '/v1/webhooks/events',
        {
          config: { access: { kind: 'signature' } as RouteAccess },
          bodyLimit: BATCH_BODY_LIMIT,
          onRequest: limited,
          // Signature first, then JSON, then the schema: an unsigned body is never looked at.
          preValidation: async (request) => {
            const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
            const delivery = verifier.verify(request.headers[SIGNATURE_HEADER] as string | undefined, raw);
            if (!(await claimDelivery(deps.pool, delivery, verifier.toleranceSeconds))) {
              throw new HttpError(401, 'replayed_signature', 'this signed delivery was already received; sign each delivery anew');
            }
            deliveries.set(request, delivery);
            try {
              request.body = JSON.parse(raw.toString('utf8'));
            } catch (error) {
              throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
            }
          },
          schema: {
            summary: 'Signed webhook for tracking tools: the batch body, authenticated by an HMAC signature instead of an API key',
            description:
              'Header Leadflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> (several v1 allowed; any WEBHOOK_SECRETS secret). 401 invalid_signature, stale_signature (timestamp more than WEBHOOK_TOLERANCE_SECONDS from now) or replayed_signature (the same signature twice). Answers like POST /v1/events.',
            tags: ['events'],
            security: [{ webhookSignature: [] }],
            headers: S.WebhookHeaders,
            body: S.EventBatchBody,
            response: { 202: S.BatchResult, ...errorResponses },
          },
        },
        async (request, reply) => {
          try {
            return reply.status(202).send(await recordEventBatch(leads, request.body.events, { log: request.log, onAccepted: countAccepted }));
          } catch (error) {
            // Our failure, not the sender's: its retry of the same delivery must not count as a replay.
            const delivery = deliveries.get(request);
            if (delivery) await releaseDelivery(deps.pool, delivery).catch(() => undefined);
            throw error;
          }
        },
      );
    });
  }

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
        description: LOST_RACE,
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
        description: LOST_RACE,
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
    {
      ...roles(['marketing', 'sales']),
      schema: {
        summary: 'Funnel metrics: stages, escalations, decisions and reasons, recycling, SLA breaches, time to escalation and to decision; overall, by sequence and by week',
        tags: ['reports'],
        querystring: S.FunnelQuery,
        response: { 200: S.Funnel, ...errorResponses },
      },
    },
    async (request) =>
      funnelReport(deps.pool, {
        ...(request.query.sequence ? { sequence: request.query.sequence } : {}),
        ...(request.query.from ? { from: new Date(request.query.from) } : {}),
        ...(request.query.to ? { to: new Date(request.query.to) } : {}),
      }),
  );

  app.get(
    '/v1/session',
    {
      ...roles(ALL_ROLES),
      schema: {
        summary: "What the web console needs to know about a key: its roles, whether there is a mailbox, where the Temporal UI is, the reject reasons and sequences",
        tags: ['console'],
        response: { 200: S.Session, ...errorResponses },
      },
    },
    async (request) => ({
      roles: auth.identify(request.headers.authorization)?.roles ?? [],
      mailbox: Boolean(deps.devMailbox),
      temporalUi: deps.temporalUi ?? null,
      rejectReasons: [...REJECT_REASONS],
      sequences: LeadService.sequenceIds(),
    }),
  );

  if (deps.console) await registerConsole(app as unknown as FastifyInstance, deps.console.dir, open);
  await registerTrackingRoutes(app, { leads, secret: deps.trackingSecret ?? DEV_TRACKING_SECRET });
  await registerSequenceRoutes(app, { leads, roles });

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
