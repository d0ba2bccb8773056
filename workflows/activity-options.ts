import type { ActivityOptions } from '@temporalio/common';
import { ErrorCodes } from '../src/domain/errors.js';

/**
 * The email activities' options, shared by both lead engines. SMTP may be down for a while: back
 * off patiently; a bad or suppressed address and a missing template are permanent. The timeouts
 * fit the mailer's own (connect 10 s, greeting 10 s, socket 30 s): a send heartbeats every 2 s, so
 * one cut off by a crash is retried 10 s after its last heartbeat instead of waiting out a long
 * start-to-close timeout (docs/reliability.md).
 */
export const SMTP_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: [ErrorCodes.invalidRecipient, ErrorCodes.suppressedRecipient, ErrorCodes.unknownTemplate],
  },
};
