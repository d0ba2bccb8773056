import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LeadIdSchema } from '../domain/lead-id.js';
import { trackingEventId, verifyTrackingToken, type TrackingAction, type TrackingClaims } from '../infra/tracking.js';
import type { LeadService } from '../leads/service.js';
import type { RouteAccess } from './access.js';
import { HttpError } from './errors.js';
import { ErrorResponses } from './schemas.js';

/**
 * Public routes behind the links of marketing email: the open pixel, tracked clicks and the
 * one-click unsubscribe (GET shows a page with one button; POST, also RFC 8058's
 * `List-Unsubscribe=One-Click`, unsubscribes). Each link carries a token signed for one lead
 * and one email; a forged token, or one lead's token on another lead's URL, is refused with 403
 * and records nothing. Opens and clicks go through the same dedupe path as
 * POST /v1/leads/{id}/events, with an eventId derived from the token.
 */

const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const Params = z.object({ id: LeadIdSchema });
// The token rides in the query: it is longer than Fastify's 100-character path parameters.
// Tokens are base64url parts joined by dots (ASCII): anything else cannot be one of ours, and a
// bound on the characters keeps the whole URL inside Node's header limit.
const Query = z.object({
  t: z.string().max(4096).regex(/^[A-Za-z0-9_.-]*$/, 'a token of base64url parts joined by dots').optional().describe('the signed token of the link'),
});
const access = { config: { access: { kind: 'token' } as RouteAccess } };
// No API key: the signed token in the link is the credential (403 invalid_token otherwise).
const documented = <T extends Record<number, z.ZodType>>(summary: string, success: T) => ({
  summary,
  tags: ['tracking'],
  security: [],
  params: Params,
  querystring: Query,
  response: { ...success, 400: ErrorResponses[400], 403: ErrorResponses[403], 404: ErrorResponses[404], 429: ErrorResponses[429] },
});
const Gif = z.any().describe('a 1×1 transparent GIF (image/gif)');
const Html = z.any().describe('an HTML page (text/html)');

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>` +
  `<body style="font-family:sans-serif;max-width:32em;margin:4em auto"><h1>${title}</h1>${body}</body></html>`;

export async function registerTrackingRoutes(root: FastifyInstance, deps: { leads: LeadService; secret: string; limited?: onRequestHookHandler[] }): Promise<void> {
  const claimsOf = (id: string, token: string, action: TrackingAction): TrackingClaims => {
    const claims = verifyTrackingToken(deps.secret, token, id, action);
    if (!claims) throw new HttpError(403, 'invalid_token', `this ${action} link is not one we sent to lead ${id}`);
    return claims;
  };
  /**
   * The open or click, with what the engagement filter judges it by (src/domain/lead/honest.ts):
   * the user agent, the address, when the email was delivered, how many links it has.
   */
  const record = async (claims: TrackingClaims, type: 'email.opened' | 'email.clicked', request: FastifyRequest) => {
    const userAgent = (request.headers['user-agent'] ?? '').slice(0, 500);
    const deliveredAt = await deps.leads.emailSentAt(claims.l, claims.k);
    return deps.leads.recordEvent(claims.l, {
      eventId: trackingEventId(claims, `${userAgent}\n${request.ip}`),
      type,
      occurredAt: new Date().toISOString(),
      properties: {
        sendKey: claims.k,
        template: claims.t,
        ...(claims.u ? { url: claims.u } : {}),
        ...(claims.n !== undefined ? { links: claims.n } : {}),
        ...(userAgent ? { userAgent } : {}),
        ip: request.ip,
        ...(deliveredAt ? { deliveredAt } : {}),
      },
    });
  };

  await root.register(async (scope) => {
    const app = scope.withTypeProvider<ZodTypeProvider>();
    // RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` as a form.
    // Opens and clicks are event ingestion: the ingestion budget, per client address.
    for (const hook of deps.limited ?? []) app.addHook('onRequest', hook);
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.get('/v1/t/:id/open', { ...access, schema: documented('Open pixel of a marketing email: records email.opened once per email', { 200: Gif }) }, async (request, reply) => {
      await record(claimsOf(request.params.id, (request.query.t ?? ''), 'open'), 'email.opened', request);
      return reply.header('cache-control', 'no-store, private').type('image/gif').send(TRANSPARENT_GIF);
    });

    app.get('/v1/t/:id/click', { ...access, schema: documented('Tracked link of a marketing email: records email.clicked once per email and link, then redirects', { 302: z.any().describe('a redirect to the link target') }) }, async (request, reply) => {
      const claims = claimsOf(request.params.id, (request.query.t ?? ''), 'click');
      await record(claims, 'email.clicked', request);
      return reply.header('cache-control', 'no-store, private').redirect(claims.u!, 302);
    });

    app.get('/v1/t/:id/unsubscribe', { ...access, schema: documented('Unsubscribe page: one button (link scanners only GET, so GET changes nothing)', { 200: Html }) }, async (request, reply) => {
      claimsOf(request.params.id, (request.query.t ?? ''), 'unsubscribe');
      return reply
        .type('text/html; charset=utf-8')
        .send(page('Unsubscribe', `<p>Stop receiving our marketing emails?</p><form method="post"><button type="submit" name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>`));
    });

    app.post('/v1/t/:id/unsubscribe', { ...access, schema: documented('One-click unsubscribe (RFC 8058): no more marketing email; the lead is kept', { 200: Html }) }, async (request, reply) => {
      const claims = claimsOf(request.params.id, (request.query.t ?? ''), 'unsubscribe');
      await deps.leads.unsubscribe(claims.l);
      return reply.type('text/html; charset=utf-8').send(page('Unsubscribed', '<p>You will get no more marketing email from us.</p>'));
    });
  });
}
