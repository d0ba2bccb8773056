import type { Rules } from './model.js';

/** Points per engagement event type (DESIGN.md, Default program). An event type absent here is unknown. */
export const DEFAULT_SCORING: Record<string, number> = {
  'webinar.viewed': 5,
  'product.compared': 20,
  'pricing.viewed': 10,
  'form.submitted': 10,
  'email.clicked': 3,
  'email.opened': 1,
  'page.viewed': 1,
};

/**
 * Profile attributes the website and the imports send (`attributes.<name>` in fit rules):
 * `npm run sequences -- check` warns about a fit rule reading any other.
 */
export const KNOWN_ATTRIBUTES: readonly string[] = ['role', 'employees', 'industry', 'country', 'plan', 'source'];

/**
 * The qualification model (docs/sequences.md, "Write your scoring rules"): fit rules grade who the lead is; conditional
 * scoring rules (none by default: the flat table above gives the DESIGN.md numbers) refine what
 * it did; `minGrade` (none by default) holds back leads that do not fit. Bump `version` on every
 * change: new enrolments get it, in-flight leads keep theirs until a migration brings it.
 */
export const DEFAULT_RULES: Rules = {
  version: 1,
  fit: {
    rules: [
      { id: 'business-email', when: [{ field: 'email', businessEmail: true }], points: 20 },
      { id: 'named-company', when: [{ field: 'company', exists: true }], points: 10 },
      { id: 'decision-maker', when: [{ field: 'attributes.role', oneOf: ['founder', 'ceo', 'cto', 'vp', 'director', 'head'] }], points: 20 },
      { id: 'company-size', when: [{ field: 'attributes.employees', atLeast: 50 }], points: 20 },
      { id: 'student', when: [{ field: 'attributes.role', equals: 'student' }], points: -40 },
    ],
    grades: { A: 60, B: 40, C: 20 },
  },
};
