import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, ErrorCodes, type ErrorCode } from '../domain/errors.js';

/** An error that already knows its HTTP status and code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The one place domain error codes become HTTP status codes. */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCodes.leadNotFound]: 404,
  [ErrorCodes.notInReview]: 409,
  [ErrorCodes.notAccepted]: 409,
  [ErrorCodes.leadClosed]: 409,
  [ErrorCodes.unknownEventType]: 400,
  [ErrorCodes.unknownSequence]: 400,
  [ErrorCodes.invalidDecision]: 400,
  [ErrorCodes.suppressedRecipient]: 409,
  [ErrorCodes.invalidRecipient]: 400,
  [ErrorCodes.temporalUnavailable]: 503,
  [ErrorCodes.unknownTemplate]: 500,
  [ErrorCodes.campaignNotFound]: 404,
  [ErrorCodes.campaignExists]: 409,
  [ErrorCodes.webhookEndpointNotFound]: 404,
  [ErrorCodes.leadErased]: 409,
};

export interface ErrorResponse {
  error: string;
  message: string;
  details?: unknown;
}

/** Maps any error thrown by a route to `{ error, message, details? }` with the right status. */
export function toErrorResponse(error: unknown, request: FastifyRequest): { status: number; body: ErrorResponse } {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
  }
  if (error instanceof DomainError) {
    return { status: STATUS_BY_CODE[error.code], body: { error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
  }
  const fastifyError = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fastifyError)) {
    const where = fastifyError.validationContext ?? 'body';
    const details = fastifyError.validation.map((issue) => ({
      path: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message,
    }));
    const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
    return { status: 400, body: { error: 'validation_failed', message: `invalid request: ${summary}`, details } };
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = request.routeOptions.bodyLimit;
    return { status: 413, body: { error: 'payload_too_large', message: `request bodies on this route are limited to ${limit >= 1024 * 1024 ? `${limit / 1024 / 1024} MiB` : `${limit / 1024} KiB`}` } };
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, body: { error: 'unsupported_media_type', message: 'send JSON with Content-Type: application/json' } };
  }
  if (fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyError.statusCode === 400) {
    return { status: 400, body: { error: 'invalid_json', message: `the body is not valid JSON: ${fastifyError.message}` } };
  }
  request.log.error({ err: error }, 'request failed');
  return { status: 500, body: { error: 'internal', message: 'something went wrong on our side; the request can be retried' } };
}

/** Seconds a 503 asks the caller to wait when the error names none. */
const RETRY_AFTER_DEFAULT_SECONDS = 5;

export function sendError(reply: FastifyReply, status: number, body: ErrorResponse): FastifyReply {
  // Every "try again later" answer says when (429 from the rate limiter sets its own).
  if ((status === 503 || status === 429) && !reply.hasHeader('retry-after')) {
    const seconds = (body.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    reply.header('retry-after', String(typeof seconds === 'number' ? seconds : RETRY_AFTER_DEFAULT_SECONDS));
  }
  return reply.status(status).type('application/json').send(body);
}
