/**
 * Erasure of a lead (GDPR art. 17) by crypto-shredding: the pure parts. Which Temporal payloads
 * belong to a lead (its workflow's), how a lead's data key is named in payload metadata, and the
 * `lead.erased` event erasure emits.
 */

const LEAD_WORKFLOW_PREFIX = 'lead-';
/**
 * Payload metadata names a lead's data key `lead:<random id>`. PAYLOAD_KEYS ids cannot hold a
 * colon, so the two kinds of key never collide; the random part says nothing about the lead.
 */
export const LEAD_KEY_PREFIX = 'lead:';

/** The lead whose workflow owns a payload (`lead-<id>`), or undefined for any other workflow (campaigns, imports). */
export function leadIdOfWorkflow(workflowId: string | undefined): string | undefined {
  if (!workflowId?.startsWith(LEAD_WORKFLOW_PREFIX)) return undefined;
  const id = workflowId.slice(LEAD_WORKFLOW_PREFIX.length);
  return /^[A-Za-z0-9._:-]{1,128}$/.test(id) ? id : undefined;
}

/** Is this payload key id a lead's data key (looked up in Postgres) rather than a PAYLOAD_KEYS key? */
export const isLeadKeyId = (keyId: string): boolean => keyId.startsWith(LEAD_KEY_PREFIX) && keyId.length > LEAD_KEY_PREFIX.length;

/** The event erasure emits once a lead's key is destroyed and its rows are scrubbed (webhook type `lead.erased`). */
export interface LeadErasedEvent {
  type: 'lead.erased';
  leadId: string;
  /** When erasure completed (ISO 8601). */
  at: string;
}

/** The `lead.erased` event: the lead's id and the time, nothing personal (the lead is gone). */
export function leadErasedEvent(leadId: string, at: Date): LeadErasedEvent {
  return { type: 'lead.erased', leadId, at: at.toISOString() };
}
