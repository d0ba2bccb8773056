/** "3 d 4 h", "12 min", "40 s": a duration as people read it. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** How long ago an instant was ("5 min ago"). */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const seconds = (now - Date.parse(iso)) / 1000;
  return seconds < 1 ? 'just now' : `${duration(seconds)} ago`;
}

/** An instant in the reader's time zone, to the minute. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const percent = (value: number | null | undefined): string => (value === null || value === undefined || Number.isNaN(value) ? '–' : `${Math.round(value * 1000) / 10} %`);

/** "no_budget" → "no budget". */
export const words = (code: string): string => code.replaceAll('_', ' ');

export const SLA_LABELS: Record<string, string> = { on_time: 'on time', reminded: 'reminded', escalated: 'escalated' };

/** The label of a histogram bucket ending at `upTo` seconds after one ending at `from`. */
export function bucketLabel(from: number | null, upTo: number | null): string {
  if (upTo === null) return `≥ ${duration(from ?? 0)}`;
  return from === null ? `< ${duration(upTo)}` : `${duration(from)} – ${duration(upTo)}`;
}

export const leadName = (lead: { firstName: string | null; lastName: string | null; email: string; id: string }): string =>
  [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email || lead.id;
