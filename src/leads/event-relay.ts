import type { LeadService } from './service.js';

export interface EventRelayLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface EventRelay {
  /** Runs one round now (tests); resolves with what it delivered. */
  runOnce(): Promise<{ delivered: number; failed: number }>;
  stop(): Promise<void>;
}

/**
 * The relay in the worker: every `intervalMs` it starts the workflows of leads stored without one
 * (their creation answered 503), then signals the events the API stored but Temporal did not confirm (Temporal down or paused when they came), oldest first per lead, until none is
 * left. One round at a time; a failed round is retried at the next tick.
 */
export function startEventRelay(leads: LeadService, options: { intervalMs?: number; minAgeMs?: number; logger?: EventRelayLogger } = {}): EventRelay {
  const intervalMs = options.intervalMs ?? 1000;
  let stopped = false;
  let current: Promise<{ delivered: number; failed: number }> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const round = async (): Promise<{ delivered: number; failed: number }> => {
    const total = { delivered: 0, failed: 0 };
    // Leads stored without their workflow first: their events then reach a running lead.
    const missing = await leads.startMissingWorkflows({ ...(options.minAgeMs !== undefined ? { minAgeMs: options.minAgeMs } : {}) });
    if (missing.started || missing.failed) options.logger?.info(missing, missing.failed ? 'event relay: Temporal did not start a stored lead\'s workflow; retrying' : 'event relay: started the workflows of stored leads');
    // Drain: a backlog after an outage goes in rounds of 500, without waiting for the next tick.
    for (;;) {
      const result = await leads.deliverUndelivered({ ...(options.minAgeMs !== undefined ? { minAgeMs: options.minAgeMs } : {}) });
      total.delivered += result.delivered;
      total.failed += result.failed;
      if (result.failed > 0 || result.delivered < 500 || stopped) break;
    }
    if (total.delivered || total.failed) options.logger?.info(total, total.failed ? 'event relay: Temporal did not confirm some events; retrying' : 'event relay: delivered stored events');
    return total;
  };

  const runOnce = () => {
    current ??= round().finally(() => (current = undefined));
    return current;
  };
  const tick = () => {
    if (stopped) return;
    runOnce()
      .catch((error: Error) => options.logger?.warn({ err: error.message }, 'event relay round failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current?.catch(() => undefined);
    },
  };
}
