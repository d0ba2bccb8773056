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
