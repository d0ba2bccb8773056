import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { fromGeneric, fromSes, type EmailFeedback, type GenericFeedback, type SesNotification } from '../domain/deliverability.js';
import { inTransaction, type Pool } from '../infra/db.js';
import { recordFeedback } from '../infra/email-feedback.js';
import { SNS_MESSAGE_TYPE_HEADER, SnsVerificationError, SnsVerifier, type SnsEnvelope } from '../infra/sns.js';
import type { RouteAccess } from './access.js';
import { HttpError } from './errors.js';
import { ErrorResponses } from './schemas.js';
import type { VerifiedDelivery } from './webhook.js';

/**
 * `POST /v1/webhooks/email-feedback`: bounces, complaints and deliveries that mail providers
 * report after a send. Two ways in: the generic JSON shape, signed like every signed inbound
 * route (the shared verification, replay protection included), and Amazon SES notifications
 * through an SNS HTTP(S) subscription, which cannot carry our signature: SNS signs its messages
 * itself, and only our topics are accepted (src/infra/sns.ts). Hard bounces and complaints
 * suppress the address, soft bounces count (src/domain/deliverability.ts).
 */

const GenericItem = z
  .object({
    type: z.enum(['bounce', 'complaint', 'delivery']),
    bounceType: z.enum(['hard', 'soft']).optional().describe('bounces only: hard (permanent) suppresses at once, soft counts towards SOFT_BOUNCE_LIMIT'),
    email: z.email().max(320),
    messageId: z.string().min(1).max(998).optional().describe('Message-ID of the email it is about (ours look like <hex@leadflow>)'),
    at: z.iso.datetime({ offset: true }).optional().describe('when it happened; default: when received'),
  })
  .refine((item) => item.type !== 'bounce' || item.bounceType !== undefined, { message: 'a bounce names its bounceType (hard or soft)', path: ['bounceType'] });

const SnsEnvelopeSchema = z.looseObject({
  Type: z.string(),
  MessageId: z.string(),
  TopicArn: z.string(),
  Message: z.string(),
  Timestamp: z.string(),
  SignatureVersion: z.string(),
  Signature: z.string(),
  SigningCertURL: z.string(),
  Subject: z.string().optional(),
  Token: z.string().optional(),
  SubscribeURL: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
});

const SesRecipient = z.looseObject({ emailAddress: z.string().min(3).max(998) });
const SesNotificationSchema = z.looseObject({
  notificationType: z.string().optional(),
  eventType: z.string().optional(),
  mail: z.looseObject({
    messageId: z.string(),
    timestamp: z.string().optional(),
    headers: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
    commonHeaders: z.looseObject({ messageId: z.string().optional() }).optional(),
  }),
  bounce: z
    .looseObject({ bounceType: z.string(), bounceSubType: z.string().optional(), bouncedRecipients: z.array(SesRecipient.extend({ status: z.string().optional() })).max(1000), timestamp: z.string(), feedbackId: z.string() })
    .optional(),
  complaint: z
    .looseObject({ complainedRecipients: z.array(SesRecipient).max(1000), complaintFeedbackType: z.string().optional(), complaintSubType: z.string().nullable().optional(), timestamp: z.string(), feedbackId: z.string() })
    .optional(),
  delivery: z.looseObject({ recipients: z.array(z.string()).max(1000), timestamp: z.string(), smtpResponse: z.string().optional() }).optional(),
});

const FeedbackBody = z
  .union([GenericItem, z.array(GenericItem).min(1).max(500), SnsEnvelopeSchema])
  .describe('one generic notification, an array of up to 500, or an SNS message (header x-amz-sns-message-type) carrying an SES notification');
const FeedbackResult = z.object({
  received: z.number().int().describe('recipients the notification is about'),
  recorded: z.number().int().describe('new feedback stored'),
  duplicates: z.number().int().describe('feedback already received (a redelivery): nothing changed'),
  suppressed: z.number().int().describe('addresses that now get no marketing email'),
  confirmed: z.boolean().optional().describe('an SNS subscription confirmation was confirmed'),
});

export interface EmailFeedbackRouteDeps {
  pool: Pool;
  softBounceLimit: number;
  /** SNS topics we accept; none: SNS messages are refused. */
  snsTopicArns: readonly string[];
  fetchText?: (url: string) => Promise<string>;
  /** The signed inbound routes' own check (signature, window, replay); answers the verified delivery. */
  verifySigned(request: FastifyRequest, raw: Buffer): Promise<VerifiedDelivery>;
  /** Forgets a claimed delivery whose processing failed on our side. */
  releaseSigned(request: FastifyRequest): Promise<void>;
  parseJson(request: FastifyRequest, raw: Buffer): Promise<unknown>;
  limited: onRequestHookHandler[];
}

const EMPTY = { received: 0, recorded: 0, duplicates: 0, suppressed: 0 };

export async function registerEmailFeedbackRoute(root: FastifyInstance, deps: EmailFeedbackRouteDeps): Promise<void> {
  const sns = deps.snsTopicArns.length ? new SnsVerifier({ topicArns: deps.snsTopicArns, ...(deps.fetchText ? { fetchText: deps.fetchText } : {}) }) : undefined;
  const snsMessages = new WeakMap<FastifyRequest, SnsEnvelope>();
  const signed = new WeakMap<FastifyRequest, VerifiedDelivery>();
  const snsRefusal = (error: unknown) => (error instanceof SnsVerificationError ? new HttpError(401, error.code, error.message) : error);

  await root.register(async (scope) => {
    // SNS posts its JSON as text/plain: raw bytes too, like the scope's JSON.
    scope.removeContentTypeParser('text/plain');
    scope.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/v1/webhooks/email-feedback',
      {
        config: { access: { kind: 'signature' } as RouteAccess },
        onRequest: deps.limited,
        // Authenticity first (our signature, or SNS's), then the schema: an unsigned body is never used.
        preValidation: async (request) => {
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          if (request.headers[SNS_MESSAGE_TYPE_HEADER] === undefined) {
            signed.set(request, await deps.verifySigned(request, raw));
            request.body = (await deps.parseJson(request, raw)) as typeof request.body;
            return;
          }
          if (!sns) throw new HttpError(401, 'unknown_sns_topic', 'this endpoint accepts no SNS messages: set EMAIL_FEEDBACK_SNS_TOPICS to the topics SES publishes to');
          const envelope = SnsEnvelopeSchema.safeParse(await deps.parseJson(request, raw));
          if (!envelope.success) throw new HttpError(401, 'invalid_sns_signature', 'the body is not a signed SNS message (Type, MessageId, TopicArn, Message, Timestamp, SignatureVersion, Signature, SigningCertURL)');
          await sns.verify(envelope.data).catch((error: unknown) => {
            throw snsRefusal(error);
          });
          snsMessages.set(request, envelope.data);
          request.body = envelope.data as typeof request.body;
        },
        schema: {
          summary: 'Bounces, complaints and deliveries reported by mail providers: hard bounces and complaints suppress the address, soft bounces count',
          description:
            'Generic shape { type: bounce | complaint | delivery, bounceType?: hard | soft, email, messageId?, at? } (or an array of up to 500), signed like POST /v1/webhooks/events (401 invalid_signature, stale_signature, replayed_signature). ' +
            'Amazon SES notifications (Bounce, Complaint, Delivery) through an SNS HTTP(S) subscription: the SNS signature is verified (401 invalid_sns_signature) and the topic must be in EMAIL_FEEDBACK_SNS_TOPICS (401 unknown_sns_topic); a SubscriptionConfirmation is confirmed. ' +
            'A notification received again changes nothing. SOFT_BOUNCE_LIMIT soft bounces in a row (no delivery between them) suppress the address.',
          tags: ['events'],
          security: [{ webhookSignature: [] }],
          body: FeedbackBody,
          response: { 202: FeedbackResult, 400: ErrorResponses[400], 401: ErrorResponses[401], 413: ErrorResponses[413], 429: ErrorResponses[429], 502: ErrorResponses[400].describe('sns_confirmation_failed: SNS did not answer the confirmation; SNS sends it again') },
        },
      },
      async (request, reply) => {
        const envelope = snsMessages.get(request);
        let items: EmailFeedback[];
        if (envelope) {
          if (envelope.Type === 'SubscriptionConfirmation') {
            await sns!.confirm(envelope).catch((error: unknown) => {
              throw error instanceof SnsVerificationError ? snsRefusal(error) : new HttpError(502, 'sns_confirmation_failed', `the subscription could not be confirmed: ${(error as Error).message}`);
            });
            return reply.status(202).send({ ...EMPTY, confirmed: true });
          }
          if (envelope.Type !== 'Notification') return reply.status(202).send(EMPTY);
          items = fromSes(sesNotification(envelope.Message));
        } else {
          const body = request.body as GenericFeedback | GenericFeedback[];
          items = fromGeneric(Array.isArray(body) ? body : [body], new Date().toISOString(), signed.get(request)?.id ?? '');
        }
        try {
          const outcome = await inTransaction(deps.pool, (db) => recordFeedback(db, items, { softBounceLimit: deps.softBounceLimit }));
          return reply.status(202).send({ received: items.length, ...outcome });
        } catch (error) {
          // Our failure, not the sender's: its retry of the same delivery must not count as a replay.
          await deps.releaseSigned(request).catch(() => undefined);
          throw error;
        }
      },
    );
  });
}

/** The SES notification an SNS Notification carries as its Message (a JSON string). */
function sesNotification(message: string): SesNotification {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw new HttpError(400, 'invalid_notification', 'the SNS message is not an Amazon SES notification (its Message is not JSON)');
  }
  const result = SesNotificationSchema.safeParse(parsed);
  if (!result.success) {
    throw new HttpError(400, 'invalid_notification', 'the SNS message is not an Amazon SES notification', result.error.issues.map((i) => ({ path: ['Message', ...i.path].join('.'), message: i.message })));
  }
  return result.data as SesNotification;
}
