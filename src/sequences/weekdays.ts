/** The days a sequence's send window names (model.ts validates them, steps.ts and delivery.ts use them). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
