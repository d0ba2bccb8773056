import type { LeadProfile } from '../domain/lead.js';
import { ownEntry } from '../domain/own-key.js';

/** A rendered email. */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Extra values some templates use (the sales notification's score and events). */
export interface TemplateContext {
  lead: LeadProfile;
  data?: Record<string, unknown>;
}

/** An email template written as code: subject, text and HTML from the lead's fields. */
export interface EmailTemplate {
  id: string;
  /** Marketing email honours unsubscribes; operational email (to sales) does not. */
  kind: 'marketing' | 'sales';
  /** The template as text with placeholders (marketing email): what a lead's snapshot pins. */
  source?: TemplateSource;
  render(context: TemplateContext): RenderedEmail;
}

const escapeHtml = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** A call to action: a link the email carries (tracked when sent). */
export interface CallToAction {
  text: string;
  url: string;
}

/**
 * A marketing email as its author wrote it: a subject and paragraphs whose placeholders name the
 * lead's fields, `{{firstName}}` or with a fallback for leads without it, `{{company | your team}}`
 * (attributes too: `{{attributes.role | there}}`). A lead's snapshot pins this source, and the email
 * is rendered when it is sent, so a profile changed in between (PATCH) is the one the email shows.
 */
export interface TemplateSource {
  subject: string;
  paragraphs: string[];
  cta?: CallToAction;
}

/** `{{ field }}` or `{{ field | fallback }}`. */
const PLACEHOLDER = /\{\{\s*([^|}]*?)\s*(?:\|\s*([^}]*?)\s*)?\}\}/g;

/** The placeholders a text uses: the field each names and whether it has a fallback. */
export function placeholdersOf(text: string): Array<{ field: string; fallback?: string }> {
  return [...text.matchAll(PLACEHOLDER)].map((m) => ({ field: m[1]!, ...(m[2] === undefined ? {} : { fallback: m[2] }) }));
}

/** A lead's field as text (`attributes.<key>` for an attribute); undefined when it has none. */
function fieldText(lead: LeadProfile, field: string): string | undefined {
  const attribute = /^attributes\.(.+)$/.exec(field);
  const value = attribute ? (lead.attributes && Object.hasOwn(lead.attributes, attribute[1]!) ? lead.attributes[attribute[1]!] : undefined) : Reflect.get(lead, field);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Fills a text's placeholders from the lead's fields (the fallback, or nothing, where it has none). */
export function fillPlaceholders(text: string, lead: LeadProfile): string {
  return text.replace(PLACEHOLDER, (_match, field: string, fallback?: string) => fieldText(lead, field) ?? fallback ?? '');
}

/** Renders a marketing email's source for a lead: a greeting, paragraphs, the call to action, a sign-off; HTML mirrors text. */
export function renderSource(source: TemplateSource, lead: LeadProfile): RenderedEmail {
  const body = source.paragraphs.map((p) => fillPlaceholders(p, lead));
  const hello = `Hi ${greetingName(lead)},`;
  const signOff = 'The Leadflow team';
  const { cta } = source;
  const link = cta ? [`${cta.text}: ${cta.url}`] : [];
  const linkHtml = cta ? [`<p><a href="${escapeHtml(cta.url)}">${escapeHtml(cta.text)}</a></p>`] : [];
  return {
    subject: fillPlaceholders(source.subject, lead),
    text: [hello, ...body, ...link, signOff].join('\n\n'),
    html: [...[hello, ...body].map((p) => `<p>${escapeHtml(p)}</p>`), ...linkHtml, `<p>${escapeHtml(signOff)}</p>`].join('\n'),
  };
}

/** A plain marketing email from its source (see TemplateSource). Sequence files use it for their own templates. */
export function marketingEmail(id: string, source: TemplateSource): EmailTemplate {
  return { id, kind: 'marketing', source, render: ({ lead }) => renderSource(source, lead) };
}

/** The lead's first name, or "there". */
export const greetingName = (lead: LeadProfile): string => lead.firstName?.trim() || 'there';

export const templates: Record<string, EmailTemplate> = {};
/** Adds a template to the registry; sequence files' templates come in through the catalog. */
export function registerTemplate(template: EmailTemplate): void {
  const existing = ownEntry(templates, template.id);
  if (existing && existing !== template) throw new Error(`email template "${template.id}" is defined twice`);
  templates[template.id] = template;
}
const register = registerTemplate;

register(
  marketingEmail('welcome', {
    subject: 'Welcome to Leadflow, {{firstName | there}}',
    paragraphs: [
      'Thanks for your interest. Over the next days we will show you how teams like {{company | yours}} turn engagement into pipeline.',
      'Reply to this email any time: a person reads it.',
    ],
  }),
);
register(
  marketingEmail('customer-stories', {
    subject: 'How three teams stopped losing leads at the hand-off',
    paragraphs: [
      'Marketing passes a lead, sales never calls, and the lead is forgotten. Here is how three teams closed that gap.',
      'Each of them now sees every rejected lead come back into nurturing with the reason attached.',
    ],
    cta: { text: 'Read the stories', url: 'https://leadflow.example.com/stories' },
  }),
);
register(
  marketingEmail('product-tour', {
    subject: 'A five-minute tour for {{company | your team}}',
    paragraphs: ['Sequences as code, scores you can explain, and a review queue sales actually works: the tour shows all three.'],
    cta: { text: 'Take the tour', url: 'https://leadflow.example.com/tour' },
  }),
);
register(
  marketingEmail('pricing-guide', {
    subject: 'Pricing, plainly',
    paragraphs: ['One price per seat, no per-contact fees. The guide explains what is included and how teams usually start.'],
    cta: { text: 'Read the pricing guide', url: 'https://leadflow.example.com/pricing' },
  }),
);
register(
  marketingEmail('recycle-checkin', {
    subject: 'Still on your list?',
    paragraphs: [
      'We spoke with {{company | your team}} a little while ago and it was not the right time.',
      'Here is what changed since then, in case the timing is better now.',
    ],
  }),
);
register(
  marketingEmail('recycle-whats-new', {
    subject: 'What is new this quarter',
    paragraphs: ['A short round-up of what shipped this quarter, and an open invitation to pick up the conversation.'],
  }),
);

/** The notification sales receives when a lead crosses the threshold. */
register({
  id: 'sales-notification',
  kind: 'sales',
  render: ({ lead, data }) => {
    const score = Number(data?.score ?? 0);
    const reviewCount = Number(data?.reviewCount ?? 1);
    const events = (data?.events as Array<{ type: string; points: number; occurredAt: string; rule?: string }> | undefined) ?? [];
    const grade = typeof data?.grade === 'string' ? data.grade : undefined;
    const leadUrl = typeof data?.leadUrl === 'string' ? data.leadUrl : undefined;
    const name = [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email;
    const profile = [
      `Lead: ${lead.id}`,
      `Name: ${name}`,
      `Email: ${lead.email}`,
      `Company: ${lead.company ?? '-'}`,
      `Score: ${score}`,
      ...(grade ? [`Grade: ${grade}`] : []),
      `Review: #${reviewCount}`,
    ];
    // Points of the flat table name no rule: the rule is the event type's entry.
    const earned = events.map((e) => `${e.occurredAt}  ${e.type}  ${e.points < 0 ? e.points : `+${e.points}`}${e.rule ? `  (rule ${e.rule})` : ''}`);
    const text = [...profile, '', 'Events that earned the score:', ...earned, ...(leadUrl ? ['', `Open the lead: ${leadUrl}`] : [])].join('\n');
    const html =
      `<ul>${profile.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` +
      `<p>Events that earned the score:</p><ul>${earned.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` +
      (leadUrl ? `<p><a href="${escapeHtml(leadUrl)}">Open the lead in the console</a></p>` : '');
    return { subject: `Lead ready for review: ${name} (${lead.company ?? 'no company'}), score ${score}${grade ? `, grade ${grade}` : ''}`, text, html };
  },
});

/** A review past its SLA: `data.level` 1 reminds sales, 2 tells the sales manager. */
register({
  id: 'sales-sla',
  kind: 'sales',
  render: ({ lead, data }) => {
    const level = Number(data?.level ?? 1);
    const reviewNo = Number(data?.reviewNo ?? 1);
    const owner = typeof data?.owner === 'string' ? data.owner : null;
    const since = String(data?.waitingSince ?? '');
    const name = [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email;
    const lines = [
      level === 1
        ? `Lead ${name} (${lead.id}) has waited in sales review since ${since} and is past its SLA.`
        : `Lead ${name} (${lead.id}) has waited in sales review since ${since} and is past its SLA twice: it needs a decision or a new owner.`,
      `Review: #${reviewNo}`,
      `Owner: ${owner ?? 'unassigned (sales inbox)'}`,
      `Score: ${Number(data?.score ?? 0)}`,
    ];
    return {
      subject: level === 1 ? `Reminder: ${name} is waiting for a decision` : `Escalation: ${name} waits past the sales review SLA`,
      text: lines.join('\n'),
      html: `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    };
  },
});

/** A sequence step names a template the library does not have: no retry can help (docs/decisions.md). */
export class UnknownTemplateError extends Error {
  constructor(readonly templateId: string) {
    super(`unknown email template "${templateId}"`);
    this.name = 'UnknownTemplateError';
  }
}

/** Renders a template by id; throws UnknownTemplateError naming the id when it does not exist. */
export function renderTemplate(templateId: string, context: TemplateContext): RenderedEmail & { kind: EmailTemplate['kind'] } {
  const template = ownEntry(templates, templateId);
  if (!template) throw new UnknownTemplateError(templateId);
  return { ...template.render(context), kind: template.kind };
}

/** A marketing template's source (what a lead's snapshot pins); undefined for one written as code. */
export function templateSource(templateId: string): TemplateSource | undefined {
  return ownEntry(templates, templateId)?.source;
}

/** A pinned template's content for the lead about to receive it (a source is rendered now). */
export function renderPinned(pinned: { kind: 'marketing'; source: TemplateSource } | (RenderedEmail & { kind: EmailTemplate['kind'] }), lead: LeadProfile): RenderedEmail & { kind: EmailTemplate['kind'] } {
  return 'source' in pinned ? { ...renderSource(pinned.source, lead), kind: pinned.kind } : pinned;
}

/** Whether a template with this id exists (an own key: `constructor` is no template). */
export function hasTemplate(templateId: string): boolean {
  return Object.hasOwn(templates, templateId);
}
