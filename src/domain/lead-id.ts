import { z } from 'zod';

/** Lead ids: 1–128 characters of `A-Za-z0-9._:-` (validated at the edges; the workflow bundle carries no zod). */
export const LeadIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'lead ids use only A-Za-z0-9 . _ : -');
