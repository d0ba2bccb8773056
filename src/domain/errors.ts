/**
 * Named domain errors with stable codes. The HTTP layer maps codes to status codes in one
 * place (src/server/errors.ts); workflows raise the same codes as ApplicationFailure types.
 */
export const ErrorCodes = {
  notInReview: 'not_in_review',
  notAccepted: 'not_accepted',
  leadNotFound: 'lead_not_found',
  leadClosed: 'lead_closed',
  unknownEventType: 'unknown_event_type',
  unknownSequence: 'unknown_sequence',
  invalidDecision: 'invalid_decision',
  suppressedRecipient: 'suppressed_recipient',
  invalidRecipient: 'invalid_recipient',
  temporalUnavailable: 'temporal_unavailable',
  unknownTemplate: 'unknown_template',
  campaignNotFound: 'campaign_not_found',
  campaignExists: 'campaign_exists',
  webhookEndpointNotFound: 'webhook_endpoint_not_found',
  leadErased: 'lead_erased',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
