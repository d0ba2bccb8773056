import type { HttpError } from './errors.js';
import { refuseUnstorableText } from './text-safety.js';
import type { FastifyBaseLogger } from 'fastify';
import { DomainError } from '../domain/errors.js';
import type { LeadService } from '../leads/service.js';
import { BatchEvent, type BatchItemResult, type BatchResult } from './schemas.js';

/** Leads whose events are recorded at the same time; one lead's events always go in order. */
const LEAD_CONCURRENCY = 8;

/**
 * Records a batch of engagement events item by item: each is validated on its own and either
 * accepted or refused with its own reason, so one bad item never sinks the others.
 * Reasons: `validation_failed` (with field paths), `unknown_event_type`, `lead_not_found`,
 * `duplicate_event` (already recorded, or repeated within the batch; safe to treat as delivered),
 * `internal` (our fault; send that item again).
 */
export async function recordEventBatch(
  leads: LeadService,
  items: readonly unknown[],
  options: { log: FastifyBaseLogger; onAccepted?: (event: BatchEvent) => void },
): Promise<BatchResult> {
  const results: BatchItemResult[] = new Array(items.length);
  const byLead = new Map<string, Array<{ index: number; event: BatchEvent }>>();
  const seen = new Map<string, number>();

  items.forEach((item, index) => {
    const parsed = BatchEvent.safeParse(item);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({ path: ['events', index, ...issue.path].join('.'), message: issue.message }));
      results[index] = {
        index,
        status: 'refused',
        ...echo(item),
        error: 'validation_failed',
        message: `invalid event: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
        details,
      };
      return;
    }
    const event = parsed.data;
    try {
      refuseUnstorableText(event, `events.${index}`);
    } catch (error) {
      const { code, message, details } = error as HttpError;
      results[index] = { index, status: 'refused', ...echo(item), error: code, message, details: details as BatchItemResult['details'] };
      return;
    }
    const key = `${event.leadId}\u0000${event.eventId}`;
    const first = seen.get(key);
    if (first !== undefined) {
      results[index] = { index, status: 'refused', leadId: event.leadId, eventId: event.eventId, error: 'duplicate_event', message: `repeats item ${first} of this batch` };
      return;
    }
    seen.set(key, index);
    const queue = byLead.get(event.leadId) ?? [];
    queue.push({ index, event });
    byLead.set(event.leadId, queue);
  });

  const record = async ({ index, event }: { index: number; event: BatchEvent }): Promise<BatchItemResult> => {
    const ids = { leadId: event.leadId, eventId: event.eventId };
    const { leadId, ...single } = event;
    try {
      const { duplicate } = await leads.recordEvent(leadId, single);
      if (duplicate) return { index, status: 'refused', ...ids, error: 'duplicate_event', message: `event ${event.eventId} of lead ${leadId} was already recorded` };
      options.onAccepted?.(event);
      return { index, status: 'accepted', ...ids };
    } catch (error) {
      if (error instanceof DomainError) return { index, status: 'refused', ...ids, error: error.code, message: error.message, ...itemDetails(error, index) };
      options.log.error({ err: error, leadId, eventId: event.eventId }, 'recording a batch event failed');
      return { index, status: 'refused', ...ids, error: 'internal', message: 'the event could not be recorded now; send it again' };
    }
  };

  const groups = [...byLead.values()];
  const runLane = async () => {
    for (let group = groups.shift(); group; group = groups.shift()) {
      for (const item of group) results[item.index] = await record(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LEAD_CONCURRENCY, groups.length) }, runLane));

  const accepted = results.filter((r) => r.status === 'accepted').length;
  return { accepted, refused: results.length - accepted, results };
}

/** A domain error's field paths (`body.type`) as paths into the batch (`events.3.type`). */
function itemDetails(error: DomainError, index: number): { details?: BatchItemResult['details'] } {
  if (!Array.isArray(error.details)) return {};
  const details = (error.details as Array<{ path: string; message: string }>).map((d) => ({ path: d.path.replace(/^body\./, `events.${index}.`), message: d.message }));
  return { details };
}

/** The ids of an item that failed validation, where they are usable strings, to help the sender match results. */
function echo(item: unknown): { leadId?: string; eventId?: string } {
  if (typeof item !== 'object' || item === null) return {};
  const { leadId, eventId } = item as Record<string, unknown>;
  return {
    ...(typeof leadId === 'string' && leadId.length <= 200 ? { leadId } : {}),
    ...(typeof eventId === 'string' && eventId.length <= 200 ? { eventId } : {}),
  };
}
