import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDuration, isDuration, parseDuration } from '../../src/domain/duration.js';
import { LeadIdSchema } from '../../src/domain/lead-id.js';
import { REJECT_REASONS } from '../../src/domain/lead.js';
import { defaultProgram, programSnapshot, sequences } from '../../src/sequences/catalog.js';
import { ProgramSchema, SequenceSchema } from '../../src/sequences/model.js';
import { durationMs } from '../../src/sequences/steps.js';
import { renderTemplate, templates, UnknownTemplateError } from '../../src/sequences/templates.js';
import { INHERITED_NAMES, hasOwnName, ownEntry } from '../../src/domain/own-key.js';
import { ROLES } from '../../src/config.js';
import { RejectBody } from '../../src/server/schemas.js';

// Property-based tests of the pure domain and the sequence model: fast-check generates inputs
// (unicode, control characters, odd numbers) and shrinks any counterexample to its smallest form.
const DAY = 86_400_000;
const UNITS: Array<[string[], number]> = [
  [['ms', 'millisecond'], 1],
  [['s', 'sec', 'second'], 1000],
  [['m', 'min', 'minute'], 60_000],
  [['h', 'hr', 'hour'], 3_600_000],
  [['d', 'day'], DAY],
  [['w', 'week'], 7 * DAY],
];
const unit = fc.constantFrom(...UNITS.flatMap(([names, ms]) => names.map((name) => ({ name, ms }))));
const anyText = fc.string({ unit: 'binary', maxLength: 60 });
const isWeekend = (ms: number) => [0, 6].includes(new Date(ms).getUTCDay());

describe('durations (property-based)', () => {
  it('reads "<n> <unit>" in any case, plural or not, with any spacing, as n times the unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), unit, fc.boolean(), fc.boolean(), fc.constantFrom('', ' ', '  '), (n, u, plural, upper, pad) => {
        // Plurals of words ("mins", "days"); a plural abbreviation "ms" would read as milliseconds.
        const name = `${u.name}${plural && u.name.length > 2 ? 's' : ''}`;
        const text = `${pad}${n}${pad || ' '}${upper ? name.toUpperCase() : name}${pad}`;
        expect(parseDuration(text)).toBe(n * u.ms);
      }),
    );
  });

  it('never throws and never yields a negative or non-finite length, whatever the text', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const ms = parseDuration(text);
        if (ms !== undefined) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
        // The check and the parser agree on every text.
        expect(isDuration(text)).toBe(ms !== undefined);
      }),
    );
  });

  it('reads "ms" as milliseconds, never as minutes with a plural s', () => {
    expect(parseDuration('90 ms')).toBe(90);
    expect(parseDuration('2 mins')).toBe(120_000);
  });

  it('refuses bare numbers: a wait without a unit is a bug', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (n) => {
        expect(parseDuration(String(n))).toBeUndefined();
      }),
    );
  });

  it('N business days from any instant lands on a weekday at the same time of day, with exactly N weekdays passed', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }), fc.integer({ min: 1, max: 30 }), (from, n) => {
        const due = addDuration(from, `${n} business days`)!;
        expect(isWeekend(due)).toBe(false);
        expect((due - from) % DAY).toBe(0);
        let weekdays = 0;
        for (let at = from + DAY; at <= due; at += DAY) if (!isWeekend(at)) weekdays += 1;
        // A start on a weekend first moves to Monday, which counts as the start, not as a day passed.
        const startsOnWeekend = isWeekend(from);
        expect(weekdays).toBe(startsOnWeekend ? n + 1 : n);
        expect(due - from).toBeLessThanOrEqual((n + Math.ceil(n / 5) * 2 + 2) * DAY);
      }),
    );
  });
});

describe('sequences and program (property-based)', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('email' as const), template: fc.constantFrom(...Object.keys(templates)) }),
    fc.record({ kind: fc.constant('wait' as const), duration: fc.tuple(fc.integer({ min: 1, max: 400 }), unit).map(([n, u]) => `${n} ${u.name}`) }),
  );

  it('accepts every well-formed sequence and gives each wait a positive length', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]+(-[a-z0-9]+)*$/), fc.integer({ min: 1, max: 1000 }), fc.array(step, { minLength: 1, maxLength: 12 }), (id, version, steps) => {
        const parsed = SequenceSchema.parse({ id, version, description: '', steps });
        for (const s of parsed.steps) if (s.kind === 'wait') expect(durationMs(s.duration)).toBeGreaterThan(0);
      }),
    );
  });

  it('refuses, without throwing, any value that is not a sequence (wrong types, bare numbers, bad ids)', () => {
    const valid = { id: 'x', version: 1, description: '', steps: [{ kind: 'email', template: 'welcome' }] };
    expect(SequenceSchema.safeParse(valid).success).toBe(true);
    // A well-formed sequence broken in one place, each way a sequence can be wrong: refused.
    const broken = fc.oneof(
      fc.anything().filter((v) => typeof v !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(v)).map((id) => ({ ...valid, id })),
      fc.oneof(fc.integer({ max: 0 }), fc.double({ noInteger: true }), fc.string(), fc.constant(null)).map((version) => ({ ...valid, version })),
      fc.constant({ ...valid, steps: [] }),
      fc.integer({ min: 1 }).map((n) => ({ ...valid, steps: [{ kind: 'wait', duration: String(n) }] })),
      fc.string().filter((k) => !['email', 'wait', 'waitFor', 'exit', 'goto'].includes(k)).map((kind) => ({ ...valid, steps: [{ kind, template: 'welcome' }] })),
      fc.anything().filter((v) => !Array.isArray(v)).map((steps) => ({ ...valid, steps })),
    );
    fc.assert(
      fc.property(broken, (value) => {
        expect(SequenceSchema.safeParse(value).success).toBe(false);
      }),
    );
    // Any value at all: an answer, never an exception; and what it accepts is a sequence.
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = SequenceSchema.safeParse(value);
        expect(typeof result.success).toBe('boolean');
        if (result.success) expect(result.data.steps.length).toBeGreaterThan(0);
      }),
    );
  });

  it('keeps the default program valid: every scoring rule a non-negative integer, every sequence snapshot-able', () => {
    expect(ProgramSchema.safeParse(defaultProgram).success).toBe(true);
    for (const id of Object.keys(sequences)) expect(programSnapshot(id).enrolSequence.id).toBe(id);
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.integer({ min: -5, max: 100 })), (scoring) => {
        const ok = Object.values(scoring).every((p) => p >= 0) && !Object.hasOwn(scoring, '__proto__');
        expect(ProgramSchema.safeParse({ ...defaultProgram, scoring }).success).toBe(ok);
      }),
      // The counterexample CI found: zod drops an own `__proto__` key, so it used to pass unseen.
      { examples: [[{ ['__proto__']: -1 }], [{ ['__proto__']: 5 }]] },
    );
  });

  it('refuses an event type named __proto__, naming it, instead of dropping it unseen', () => {
    const result = ProgramSchema.safeParse({ ...defaultProgram, scoring: { ...defaultProgram.scoring, ['__proto__']: 5 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['scoring.__proto__', '"__proto__" cannot name an event type']]);
  });
});

describe('templates and ids (property-based)', () => {
  const profile = fc.record({
    id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
    email: fc.constant('x@example.com'),
    firstName: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined }),
    lastName: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined }),
    company: fc.option(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constant('<script>alert(1)</script>')), { nil: undefined }),
  });

  it('renders every template for any profile: no raw markup from the lead in the HTML', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(templates)), profile, (template, lead) => {
        const data = { score: 55, reviewCount: 1, events: [], level: 1, reviewNo: 1, owner: null, waitingSince: new Date(0).toISOString() };
        const email = renderTemplate(template, { lead, data });
        expect(email.subject.length).toBeGreaterThan(0);
        for (const field of [lead.firstName, lead.lastName, lead.company]) {
          if (field && /[<>]/.test(field.trim())) expect(email.html).not.toContain(field.trim());
        }
        expect(email.html).not.toContain('<script');
      }),
    );
  });

  it('accepts exactly the lead ids of DESIGN.md: 1-128 characters of A-Za-z0-9 . _ : -', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 140 }), (id) => {
        expect(LeadIdSchema.safeParse(id).success).toBe(/^[A-Za-z0-9._:-]{1,128}$/.test(id));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), (id) => {
        expect(LeadIdSchema.safeParse(id).success).toBe(true);
      }),
    );
  });
});

describe('names a caller supplies (property-based)', () => {
  // Any text, weighted towards the names every object inherits (constructor, __proto__, ...).
  const name = fc.oneof(fc.constantFrom(...INHERITED_NAMES), fc.constantFrom(...Object.keys(defaultProgram.scoring), ...Object.keys(sequences), ...Object.keys(templates)), anyText);

  it('are known exactly when they are an own key of their table: event types, sequences, templates, reject reasons, roles', () => {
    fc.assert(
      fc.property(name, (n) => {
        const expected = (list: readonly string[]) => list.includes(n);
        expect(hasOwnName(defaultProgram.scoring, n)).toBe(expected(Object.keys(defaultProgram.scoring)));
        expect(ownEntry(defaultProgram.scoring, n) === undefined).toBe(!expected(Object.keys(defaultProgram.scoring)));
        expect(hasOwnName(sequences, n)).toBe(expected(Object.keys(sequences)));
        expect(RejectBody.shape.reason.safeParse(n).success).toBe(expected(REJECT_REASONS));
        expect(ROLES.includes(n as (typeof ROLES)[number])).toBe(expected(ROLES));
        if (expected(Object.keys(templates))) expect(renderTemplate(n, { lead: { id: 'p', email: 'p@example.com' }, data: {} }).subject.length).toBeGreaterThan(0);
        else expect(() => renderTemplate(n, { lead: { id: 'p', email: 'p@example.com' } })).toThrow(UnknownTemplateError);
        if (!expected(Object.keys(sequences))) expect(() => programSnapshot(n)).toThrow(/unknown sequence/);
      }),
      { numRuns: 500 },
    );
  });
});
