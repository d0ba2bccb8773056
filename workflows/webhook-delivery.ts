import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/types.js';
import type { WebhookDeliveryInput, WebhookDeliveryResult } from './messages.js';

const { giveUpWebhook } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * One webhook delivery, durable and on its own: the attempts of one receiver never wait for
 * another's, and no lead workflow waits for any. Retried with exponential back-off (from 1 s,
 * capped at 1 h) for a day; a receiver down for an hour gets the delivery when it is back.
 */
export async function webhookDeliveryWorkflow({ outboxId, retry }: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const { deliverWebhook } = proxyActivities<WebhookActivities>({
    // Longer than the sender's own request timeout (15 s): an attempt ends with its request.
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: retry?.giveUpAfter ?? '1 day',
    retry: { initialInterval: retry?.initialInterval ?? '1 second', backoffCoefficient: 2, maximumInterval: retry?.maximumInterval ?? '1 hour' },
  });
  try {
    return await deliverWebhook.executeWithOptions({ summary: `deliver ${outboxId}` }, [{ outboxId }]);
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    await giveUpWebhook({ outboxId });
    return 'failed';
  }
}
