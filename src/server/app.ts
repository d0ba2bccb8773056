import { Readable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginCallback, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import { DEV_TRACKING_SECRET, type ApiKey, type Role } from '../config.js';
import type { Pool } from '../infra/db.js';
import { renderMetrics, type Metrics } from '../infra/metrics.js';
import { payloadFromJson, payloadToJson, type AesGcmPayloadCodec } from '../infra/payload-codec.js';
import { readMailbox } from '../infra/smtp-sink.js';
import { funnelReport } from '../leads/funnel.js';
import { leadWorkflowId, REJECT_REASONS } from '../domain/lead.js';
import { LeadService, TEMPORAL_DEADLINE_MS, type ErasureDeps } from '../leads/service.js';
import { importWorkflowId } from '../domain/imports.js';
import type { Program } from '../sequences/model.js';
import { Authenticator } from './auth.js';
import { CONSOLE_CSP, CONSOLE_PATH, consoleFiles } from './console.js';
import { recordEventBatch } from './event-batch.js';
import { HttpError, sendError, toErrorResponse } from './errors.js';
import * as S from './schemas.js';
import type { RouteAccess } from './access.js';
import { registerImportRoutes } from './import-routes.js';
import { registerSequenceRoutes } from './sequence-routes.js';
import { registerCampaignRoutes } from './campaign-routes.js';
import { registerReportRoutes } from './report-routes.js';
import { CampaignService } from '../leads/campaigns.js';
import { registerTrackingRoutes } from './tracking-routes.js';
import { registerEmailFeedbackRoute } from './feedback-routes.js';
import { DEFAULT_SOFT_BOUNCE_LIMIT } from '../infra/email-feedback.js';
import { refuseUnstorableText } from './text-safety.js';
import { registerWebhookEndpointRoutes } from './webhook-endpoint-routes.js';
import { WebhookEndpoints } from '../leads/webhooks.js';
import { DEV_PAYLOAD_KEYS, type PayloadKey } from '../infra/payload-codec.js';
import { claimDelivery, releaseDelivery, WebhookVerifier, type VerifiedDelivery } from './webhook.js';

/** Who may call a route (./access.ts). Every route declares one; building the app fails for a route that does not. */
export type { RouteAccess };

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
  /** OpenTelemetry's Fastify instrumentation (src/infra/tracing.ts): a span per request and per hook, the handler's context for the Temporal calls. */
  tracing?: { plugin(): FastifyPluginCallback };
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
  /** Secrets for `POST /v1/webhooks/events` and `POST /v1/webhooks/email-feedback`; without any (and no SNS topic), those routes do not exist. */
  webhook?: { secrets: string[]; toleranceSeconds: number };
  /** Bounces and complaints (`POST /v1/webhooks/email-feedback`): SNS topics accepted, soft bounces in a row that suppress, how SNS URLs are fetched (tests). */
  emailFeedback?: { snsTopicArns: string[]; softBounceLimit: number; fetchText?: (url: string) => Promise<string> };
  /** Requests per window per API key (per client address without one); absent or 0: no limit. Event ingestion counts against `ingestMax` instead. */
  rateLimit?: { max: number; ingestMax?: number; windowSeconds: number };
  /** Serve the web console built into this folder under /console/ (src/server/console.ts). */
  console?: { dir: string };
  /** The Temporal Web UI the console links each lead's workflow to. */
  temporalUi?: { url: string; namespace: string };
  /** Secret of the tracking and unsubscribe links (TRACKING_SECRET); default: the development secret. */
  trackingSecret?: string;
  /** The payload codec served at `/codec/encode` and `/codec/decode` (admin) for the Temporal UI and CLI. */
  codec?: { codec: AesGcmPayloadCodec; corsOrigins: string[] };
  /** Staged rows a CSV import's job handles per activity call (default 500; tests use small pages). */
  importPageSize?: number;
  /** Base URL of the API and console (PUBLIC_URL): webhook payloads link to a lead's console page. */
  publicUrl?: string;
  /** Keys webhook endpoints' signing secrets are sealed with (PAYLOAD_KEYS; default: the development key). */
  payloadKeys?: PayloadKey[];
  /** Erasure (DELETE /v1/leads/{id}): the lead key store and the suppression hash key; without it the route does not exist. */
  erasure?: ErasureDeps;
}

/** Request bodies above this are refused with 413 (DESIGN.md). */
const BODY_LIMIT = 64 * 1024;
/** The batch and webhook routes carry up to 500 events: they get more room. */
const BATCH_BODY_LIMIT = 1024 * 1024;
/** A codec request carries a workflow's payloads: room for a long history page. */
const CODEC_BODY_LIMIT = 8 * 1024 * 1024;

const ALL_ROLES: Role[] = ['ingest', 'marketing', 'sales', 'admin'];

const LOST_RACE =
  '409 not_in_review when the lead is not (or no longer) in sales review; its details name the lead\'s stage and the decision that closed its latest review: { stage, decision: { reviewNo, decision, reason, by, at } }, so whoever lost a race learns who won.';
/** `/v1/leads/:id/events` → a regex matching its concrete paths. */
const routePattern = (url: string): RegExp =>
  new RegExp(`^${url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);

const errorResponses = S.ErrorResponses;

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
    // Lead ids may be 128 characters (DESIGN.md); Fastify's default (100) answered 414 to longer
    // ones. Longer than ours, so the schema refuses a too-long id with a 400 naming the field.
    routerOptions: { maxParamLength: 512 },
    // `__proto__` and `constructor.prototype` keys are dropped while parsing (prototype poisoning
    // cannot reach our objects), rather than failing an otherwise good tracking payload.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Before any plugin or route, so that every route and hook is wrapped.
  if (deps.tracing) await app.register(deps.tracing.plugin());

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
            name: 'webhook-signature',
            description:
              'Standard Webhooks: webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"> with a secret from WEBHOOK_SECRETS (whsec_<base64 key>), beside the webhook-id and webhook-timestamp headers; valid for WEBHOOK_TOLERANCE_SECONDS, once per webhook-id',
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
    const route = request.routeOptions.url ?? '';
    // Other routes' ids are not leads' (an import, a sequence, a tracking token).
    const context = typeof id !== 'string' ? undefined : route.startsWith('/v1/leads/') ? { leadId: id, workflowId: leadWorkflowId(id) } : route.startsWith('/v1/imports/') ? { importId: id, workflowId: importWorkflowId(id) } : undefined;
    if (context) {
      request.log = request.log.child(context);
      // Fastify writes "request completed" through the reply's logger.
      reply.log = request.log;
    }
  });

  // NUL and lone surrogates are valid JSON but no store keeps them: a 400 before any work. After
  // validation, so keys the schema does not know are already dropped and cannot refuse a body.
  // The batch routes check each event on its own (a refused item, not a refused batch).
  app.addHook('preHandler', async (request) => {
    refuseUnstorableText(request.query, 'querystring');
    // Raw bodies (signed webhooks) and streams (CSV imports) are checked where they are read.
    if (Buffer.isBuffer(request.body) || request.body instanceof Readable) return;
    const batch = ['/v1/events', '/v1/webhooks/events'].includes(request.routeOptions.url ?? '');
    refuseUnstorableText(batch ? { ...(request.body as object), events: [] } : request.body, 'body');
  });

  const auth = new Authenticator(deps.apiKeys);
  const leads = new LeadService({ client: deps.client, pool: deps.pool, ...(deps.program ? { program: deps.program } : {}), ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}), ...(deps.erasure ? { erasure: deps.erasure } : {}) });

  // Rate limit per API key (its roles and digest, never the key), or per address without a valid
  // key; it runs before authorization so that guessing keys is throttled too.
  const rateKey = (request: FastifyRequest): string => {
    const caller = auth.identify(request.headers.authorization);
    if (caller) return `key:${caller.keyId}`;
    return `${request.routeOptions.config.access?.kind === 'signature' ? 'webhook' : 'address'}:${request.ip}`;
  };
  await app.register(rateLimit, {
    global: false,
    max: deps.rateLimit?.max ?? 0,
    timeWindow: (deps.rateLimit?.windowSeconds ?? 60) * 1000,
    keyGenerator: rateKey,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `too many requests: at most ${context.max} per ${deps.rateLimit?.windowSeconds ?? 60} s for this key; retry in ${context.after}`, {
        limit: context.max,
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });
  const limited = deps.rateLimit?.max ? [app.rateLimit()] : [];
  // Event ingestion (single, batch, webhook, tracking) is sized for a tracking backend's stream
  // from one key: its own, larger budget, counted apart from the other routes.
  const ingestLimited = deps.rateLimit?.ingestMax ? [app.rateLimit({ max: deps.rateLimit.ingestMax, keyGenerator: (request) => `ingest:${rateKey(request)}` })] : [];

  const open = { config: { access: { kind: 'public' } as RouteAccess } };
  const roles = (allowed: readonly Role[], budget: 'default' | 'ingest' = 'default') => ({
    config: { access: { kind: 'key', roles: allowed } as RouteAccess },
    onRequest: [
      ...(budget === 'ingest' ? ingestLimited : limited),
      async (request: FastifyRequest) => {
        auth.authorize(request.headers.authorization, allowed);
      },
    ],
  });

  /** A path we serve, asked with a method we do not: 405 with Allow. Anything else: 404. */
  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = [...new Set(routeTable.filter((r) => r.method !== 'HEAD' && routePattern(r.url).test(path)).map((r) => r.method))];
    if (allowed.length) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 405, { error: 'method_not_allowed', message: `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}` });
    }
    return sendError(reply, 404, { error: 'not_found', message: `no route ${request.method} ${path}` });
  };
  app.setErrorHandler((error, request, reply) => {
    // A body error on a path we do not route (e.g. QUERY without Content-Type) is a routing answer first.
    if (!request.routeOptions.url) return noRoute(request, reply);
    const { status, body } = toErrorResponse(error, request);
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler(noRoute);

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

  /**
   * Asks each dependency for a sign of life. The answer is public: it says "ok" or "unavailable",
   * never the driver's message (addresses, user names); the reason goes to the log.
   */
  const dependencyChecks = async (log: FastifyBaseLogger): Promise<Record<string, string>> => {
    const checks: Record<string, string> = {};
    const check = (name: string, probe: Promise<unknown>) =>
      probe.then(
        () => (checks[name] = 'ok'),
        (error: Error) => {
          log.warn({ dependency: name, err: error.message }, 'health check failed');
          checks[name] = 'unavailable';
        },
      );
    await check('postgres', deps.pool.query('SELECT 1'));
    // Bounded: a paused Temporal makes the probe hang, and a health check must answer.
    await check('temporal', deps.client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () => deps.client.connection.workflowService.getSystemInfo({})));
    return checks;
  };
  // /healthz for liveness probes, /readyz for load balancers: both 503 when a dependency is down.
  for (const url of ['/healthz', '/readyz']) {
    app.get(url, { ...open, schema: { hide: true, response: { 200: S.Health, 503: S.Health } } }, async (request, reply) => {
      const checks = await dependencyChecks(request.log);
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
      ...roles(['ingest'], 'ingest'),
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
      ...roles(['ingest'], 'ingest'),
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

  const feedback = deps.emailFeedback;
  if (deps.webhook?.secrets.length || feedback?.snsTopicArns.length) {
    const verifier = new WebhookVerifier(deps.webhook?.secrets ?? [], deps.webhook?.toleranceSeconds ?? 300);
    const deliveries = new WeakMap<FastifyRequest, VerifiedDelivery>();
    // Fastify's own JSON parser (secure-json-parse), poisoned keys dropped like everywhere else.
    const parseJson = app.getDefaultJsonParser('remove', 'remove');
    /** Every signed inbound route's check: the signature over the raw bytes, its window, and no replay. */
    const verifySigned = async (request: FastifyRequest, raw: Buffer): Promise<VerifiedDelivery> => {
      const delivery = verifier.verify(request.headers, raw);
      if (!(await claimDelivery(deps.pool, delivery, verifier.toleranceSeconds))) {
        throw new HttpError(401, 'replayed_signature', 'a delivery with this webhook-id was already received; give each delivery its own id');
      }
      deliveries.set(request, delivery);
      return delivery;
    };
    /** Our failure, not the sender's: its retry of the same delivery must not count as a replay. */
    const releaseSigned = async (request: FastifyRequest): Promise<void> => {
      const delivery = deliveries.get(request);
      if (delivery) await releaseDelivery(deps.pool, delivery);
    };
    const parseSignedJson = async (request: FastifyRequest, raw: Buffer): Promise<unknown> => {
      try {
        return await new Promise<unknown>((resolve, reject) => parseJson(request, raw.toString('utf8'), (error: Error | null, parsed?: unknown) => (error ? reject(error) : resolve(parsed))));
      } catch (error) {
        throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
      }
    };
    // Its own scope: JSON arrives as raw bytes, because the signature covers the bytes as sent.
    await app.register(async (scope) => {
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      await registerEmailFeedbackRoute(scope as unknown as FastifyInstance, {
        pool: deps.pool,
        softBounceLimit: feedback?.softBounceLimit ?? DEFAULT_SOFT_BOUNCE_LIMIT,
        snsTopicArns: feedback?.snsTopicArns ?? [],
        ...(feedback?.fetchText ? { fetchText: feedback.fetchText } : {}),
        verifySigned,
        releaseSigned,
        parseJson: parseSignedJson,
        limited: ingestLimited,
      });
      if (!deps.webhook?.secrets.length) return;
      scope.withTypeProvider<ZodTypeProvider>().post(
        '/v1/webhooks/events',
        {
          config: { access: { kind: 'signature' } as RouteAccess },
          bodyLimit: BATCH_BODY_LIMIT,
          onRequest: ingestLimited,
          // Signature first, then JSON, then the schema: an unsigned body is never looked at.
          preValidation: async (request) => {
            const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
            await verifySigned(request, raw);
            request.body = (await parseSignedJson(request, raw)) as typeof request.body;
          },
          schema: {
            summary: 'Signed webhook for tracking tools: the batch body, authenticated by an HMAC signature instead of an API key',
            description:
              'Standard Webhooks: headers webhook-id, webhook-timestamp (unix seconds) and webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>"> (several space-separated allowed; any WEBHOOK_SECRETS secret). 401 invalid_signature, stale_signature (timestamp more than WEBHOOK_TOLERANCE_SECONDS from now) or replayed_signature (the same webhook-id twice). Answers like POST /v1/events.',
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
            await releaseSigned(request).catch(() => undefined);
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

  if (deps.erasure) {
    app.delete(
      '/v1/leads/:id',
      {
        ...roles(['admin']),
        schema: {
          summary: 'Erase a lead: its data key is destroyed and its rows keep no personal data (GDPR art. 17)',
          description:
            "202 { id, erased: true }; afterwards GET is 404. The lead's workflow is terminated, every Temporal payload of it (its whole history) stays encrypted under a key that no longer exists, its rows keep no personal data (a tombstone: the funnel still counts it), the development mailbox forgets its messages, and its address stays suppressed as a keyed hash. Repeating the call answers 202 again; an id that never existed is 404. An erased id is not reused: POST /v1/leads with it is 409 lead_erased.",
          tags: ['privacy'],
          params: S.LeadIdParams,
          response: { 202: S.LeadErased, ...errorResponses },
        },
      },
      async (request, reply) => reply.status(202).send(await leads.erase(request.params.id)),
    );
  }

  app.get(
    '/v1/leads/:id/export',
    {
      ...roles(['admin']),
      schema: {
        summary: 'Everything held about a lead, decrypted, in one JSON document (GDPR art. 15)',
        tags: ['privacy'],
        params: S.LeadIdParams,
        response: { 200: S.LeadExport, ...errorResponses },
      },
    },
    async (request) => leads.export(request.params.id),
  );

  app.patch(
    '/v1/leads/:id',
    {
      ...roles(['ingest', 'marketing']),
      schema: {
        summary: "Change a lead's profile: the next email and the fit grade use the new one",
        description:
          'Any of email, firstName, lastName, company, timezone, attributes. null clears a field (not the email); attributes merge, and an attribute set to null is removed. Unknown fields are refused (400). A closed lead keeps its new profile on record.',
        tags: ['leads'],
        params: S.LeadIdParams,
        body: S.UpdateLeadBody,
        response: { 200: S.LeadDetail, ...errorResponses },
      },
    },
    async (request) => leads.updateProfile(request.params.id, request.body),
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
    '/v1/leads/:id/outcome',
    {
      ...roles(['sales']),
      schema: {
        summary: 'Report how an accepted lead ended: won (amount), lost (reason), or lost and recycled into nurturing',
        description:
          "409 not_accepted when the lead has no accepted review waiting for an outcome (details: its stage, and the outcome already recorded for its latest review, if any). The same body again answers 200 again and changes nothing. lost with recycle: true sends the lead back to nurturing in the recycle sequence; it escalates again on new engagement.",
        tags: ['decisions'],
        params: S.LeadIdParams,
        body: S.OutcomeBody,
        response: { 200: S.OutcomeResult, ...errorResponses },
      },
    },
    async (request) => leads.outcome(request.params.id, request.body),
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
  await registerTrackingRoutes(app, { leads, secret: deps.trackingSecret ?? DEV_TRACKING_SECRET, limited: ingestLimited });
  await registerSequenceRoutes(app, { leads, roles });
  await registerWebhookEndpointRoutes(app as unknown as FastifyInstance, { endpoints: new WebhookEndpoints({ pool: deps.pool, payloadKeys: deps.payloadKeys ?? DEV_PAYLOAD_KEYS }), roles });
  await registerCampaignRoutes(app, { campaigns: new CampaignService({ client: deps.client, pool: deps.pool }), roles });
  await registerReportRoutes(app as unknown as FastifyInstance, { pool: deps.pool, ...(deps.program ? { program: deps.program } : {}), roles });
  await registerImportRoutes(app as unknown as FastifyInstance, { client: deps.client, pool: deps.pool, leads, roles, ...(deps.importPageSize ? { pageSize: deps.importPageSize } : {}) });
  if (deps.codec) registerCodecServer(deps.codec, { limited, auth, errorResponses });

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

  /**
   * The codec server (Temporal's remote codec protocol): the Temporal UI and `temporal
   * --codec-endpoint` send payloads to `<endpoint>/decode` and show the plaintext. Admin only:
   * a bearer key, or, for a browser UI that sends no header of ours, the key as the last path
   * segment of the endpoint (`/codec/<key>`; redacted from logs). CORS for the UI's origins only.
   */
  function registerCodecServer(
    { codec, corsOrigins }: NonNullable<AppDeps['codec']>,
    ctx: { limited: typeof limited; auth: Authenticator; errorResponses: typeof errorResponses },
  ) {
    const cors = (request: FastifyRequest, reply: { header(name: string, value: string): unknown }) => {
      const origin = request.headers.origin;
      reply.header('vary', 'Origin');
      if (origin && corsOrigins.includes(origin)) {
        reply.header('access-control-allow-origin', origin);
        reply.header('access-control-allow-credentials', 'true');
      }
    };
    for (const prefix of ['/codec', '/codec/:key']) {
      const inPath = prefix.includes(':key');
      for (const [action, run] of [
        ['encode', (p: Parameters<AesGcmPayloadCodec['encode']>[0]) => codec.encode(p)],
        ['decode', (p: Parameters<AesGcmPayloadCodec['decode']>[0]) => codec.decode(p)],
      ] as const) {
        app.options(`${prefix}/${action}`, { ...open, schema: { hide: true } }, async (request, reply) => {
          cors(request, reply);
          reply.header('access-control-allow-methods', 'POST, OPTIONS');
          reply.header('access-control-allow-headers', 'authorization, content-type, x-namespace');
          reply.header('access-control-max-age', '600');
          return reply.status(200).send();
        });
        app.post(
          `${prefix}/${action}`,
          {
            config: { access: { kind: 'key', roles: ['admin'] } as RouteAccess },
            bodyLimit: CODEC_BODY_LIMIT,
            onRequest: [
              ...ctx.limited,
              async (request: FastifyRequest, reply) => {
                cors(request, reply);
                const key = (request.params as { key?: string }).key;
                ctx.auth.authorize(request.headers.authorization ?? (inPath && key ? `Bearer ${key}` : undefined), ['admin']);
              },
            ],
            schema: {
              summary: `Codec server: ${action} Temporal payloads with the lead-data key (admin)`,
              description:
                action === 'decode'
                  ? "Payloads without the binary/encrypted encoding come back unchanged, and so do payloads of an erased lead (its key is destroyed: they stay ciphertext). 400 undecodable_payload when a key id is unknown or a payload fails authentication."
                  : 'Encrypts with the newest PAYLOAD_KEYS key (never with a lead\'s own key: the request names no workflow).',
              tags: ['ops'],
              ...(inPath ? { hide: true } : {}),
              body: S.CodecBody,
              response: { 200: S.CodecBody, ...ctx.errorResponses },
            },
          },
          async (request) => {
            try {
              const out = await run(request.body.payloads.map(payloadFromJson));
              return { payloads: out.map(payloadToJson) };
            } catch (error) {
              request.log.warn({ reason: (error as Error).message }, `codec ${action} refused`);
              throw new HttpError(400, 'undecodable_payload', `cannot ${action} these payloads: ${(error as Error).message}`);
            }
          },
        );
      }
    }
  }
}
