import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { indexIsCurrent, LIBRARY_DIR, libraryFileNames, renderIndex } from '../../src/infra/sequence-library.js';
import { library } from '../../src/sequences/library/index.js';
import { INHERITED_NAMES } from '../../src/domain/own-key.js';
import { checkLibrary, formatProblem, type LibraryFile, type ProblemKind } from '../../src/sequences/check.js';
import { DEFAULT_SCORING } from '../../src/sequences/scoring.js';
import { marketingEmail, templates as builtIn, type EmailTemplate } from '../../src/sequences/templates.js';
import type { LeadProfile } from '../../src/domain/lead.js';
import { runSequencesCli } from '../../src/tools/sequences-cli.js';

const events = Object.keys(DEFAULT_SCORING);
const file = (name: string, definition: unknown): LibraryFile => ({ file: name, definition });
const seq = (id: string, steps: unknown[]) => ({ id, version: 1, description: 'test', steps });
const kinds = (files: LibraryFile[], templates: Record<string, EmailTemplate> = builtIn) => checkLibrary(files, templates, events).map((p) => p.kind);
const only = (files: LibraryFile[], kind: ProblemKind, templates?: Record<string, EmailTemplate>) => {
  const problems = checkLibrary(files, templates ?? builtIn, events);
  expect(problems.map((p) => p.kind)).toEqual([kind]);
  return { ...problems[0]!, line: formatProblem(problems[0]!) };
};

describe('sequences check', () => {
  it('passes the shipped library', () => {
    const files = library.map(({ file: f, module }) => file(f, module.default));
    const templates = { ...builtIn };
    for (const { module } of library) for (const t of module.templates ?? []) templates[t.id] = t;
    expect(checkLibrary(files, templates, events)).toEqual([]);
    expect(files.map((f) => f.file)).toEqual(['onboarding.ts', 'recycle.ts', 'webinar-invite.ts']);
  });

  it('unknown template: names file, sequence and step', () => {
    const p = only([file('promo.ts', seq('promo', [{ kind: 'email', template: 'welcome' }, { kind: 'wait', duration: '1 day' }, { kind: 'email', template: 'welcom' }]))], 'unknown-template');
    expect(p).toMatchObject({ file: 'promo.ts', sequence: 'promo', step: 2 });
    expect(p.line).toBe('promo.ts: sequence "promo", step 2: email template "welcom" does not exist [unknown-template]');
  });

  it('unknown template: a name every object inherits (constructor, toString, __proto__, ...) is unknown too', () => {
    for (const name of INHERITED_NAMES) {
      const p = only([file('promo.ts', seq('promo', [{ kind: 'email', template: name }]))], 'unknown-template');
      expect(p.line, name).toBe(`promo.ts: sequence "promo", step 0: email template "${name}" does not exist [unknown-template]`);
    }
  });

  it('unreachable step: a step after an unconditional exit or goto that nothing branches to', () => {
    const p = only([file('promo.ts', seq('promo', [{ kind: 'email', template: 'welcome' }, { kind: 'exit' }, { kind: 'email', template: 'pricing-guide' }]))], 'unreachable-step');
    expect(p).toMatchObject({ file: 'promo.ts', sequence: 'promo', step: 2 });
    expect(p.message).toMatch(/email can never run/);
  });

  it('zero-length loop: a goto back without a wait in between, also across sequences', () => {
    const p = only([file('spin.ts', seq('spin', [{ label: 'top', kind: 'email', template: 'welcome' }, { kind: 'goto', to: 'top' }]))], 'zero-length-loop');
    expect(p).toMatchObject({ file: 'spin.ts', sequence: 'spin', step: 0 });
    expect(p.message).toContain('spin step 0 → spin step 1 → spin step 0');
    // A loop through two files: a → b → a, no wait anywhere.
    expect(kinds([file('a.ts', seq('a', [{ kind: 'goto', sequence: 'b' }])), file('b.ts', seq('b', [{ kind: 'email', template: 'welcome' }, { kind: 'goto', sequence: 'a' }]))])).toEqual(['zero-length-loop']);
    // With a wait in it, the same loop is fine.
    expect(kinds([file('ok.ts', seq('ok', [{ label: 'top', kind: 'email', template: 'welcome' }, { kind: 'wait', duration: '1 week' }, { kind: 'goto', to: 'top' }]))])).toEqual([]);
  });

  it('missing field in a template: a placeholder of a field leads do not have, or of an optional one without a fallback', () => {
    const reads = marketingEmail('reads-title', { subject: 'For {{jobTitle}}', paragraphs: ['Hello.'] });
    const p = only([file('t.ts', seq('t', [{ kind: 'email', template: 'reads-title' }]))], 'missing-field', { ...builtIn, 'reads-title': reads });
    expect(p).toMatchObject({ file: 't.ts', sequence: 't', step: 0 });
    expect(p.message).toBe(
      'template "reads-title" reads lead.jobTitle, a field leads do not have (they have id, email, firstName, lastName, company, timezone, attributes; an attribute is attributes.<key>)',
    );

    const noFallback = marketingEmail('no-fallback', { subject: 'News for {{company}}', paragraphs: ['Hello.'] });
    const q = only([file('t.ts', seq('t', [{ kind: 'wait', duration: '1 day' }, { kind: 'email', template: 'no-fallback' }]))], 'missing-field', { ...builtIn, 'no-fallback': noFallback });
    expect(q).toMatchObject({ step: 1 });
    expect(q.message).toBe('template "no-fallback" prints nothing for {{company}} when a lead has no company: give it a fallback, {{company | ...}}');

    // With fallbacks, attributes and the fields every lead has, nothing to say.
    const fine = marketingEmail('fine', { subject: 'News for {{company | your team}}', paragraphs: ['{{attributes.role | Hello}}, {{email}}.'] });
    expect(kinds([file('t.ts', seq('t', [{ kind: 'email', template: 'fine' }]))], { ...builtIn, fine })).toEqual([]);
  });

  it('a template written as code (no source) is still probed: "undefined" for a lead without the field', () => {
    const code = { id: 'code', kind: 'marketing' as const, render: ({ lead }: { lead: LeadProfile }) => ({ subject: `News for ${lead.company}`, text: 'Hello.', html: '<p>Hello.</p>' }) };
    const q = only([file('t.ts', seq('t', [{ kind: 'email', template: 'code' }]))], 'missing-field', { ...builtIn, code });
    expect(q.message).toMatch(/prints "undefined" for a lead with only id and email/);
  });

  it('invalid shape, unknown labels, sequences and events, duplicates: each named', () => {
    const bad = only([file('x.ts', seq('x', [{ kind: 'email', template: 'welcome' }, { kind: 'wait', duration: '3' }]))], 'invalid');
    expect(bad.line).toMatch(/^x\.ts: sequence "x", step 1: duration: a positive duration with units/);
    expect(kinds([file('x.ts', seq('x', [{ kind: 'waitFor', event: 'email.clicked', timeout: '1 day', then: 'nowhere' }]))])).toEqual(['unknown-label']);
    expect(kinds([file('x.ts', seq('x', [{ kind: 'goto', sequence: 'nope' }]))])).toEqual(['unknown-sequence']);
    expect(kinds([file('x.ts', seq('x', [{ kind: 'waitFor', event: 'email.clickd', timeout: '1 day' }]))])).toEqual(['unknown-event']);
    expect(kinds([file('x.ts', seq('x', [{ kind: 'wait', duration: '1 day' }])), file('y.ts', seq('x', [{ kind: 'wait', duration: '1 day' }]))])).toEqual(['duplicate-id']);
    expect(kinds([file('x.ts', seq('x', [{ label: 'a', kind: 'wait', duration: '1 day' }, { label: 'a', kind: 'wait', duration: '1 day' }]))])).toEqual(['duplicate-label']);
  });

  it('the committed library index lists exactly the files of the folder', () => {
    expect(indexIsCurrent()).toBe(true);
    expect(renderIndex(libraryFileNames())).toContain("{ file: 'webinar-invite.ts', module: sequence2 }");
  });
});

describe('npm run sequences', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sequences-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('check fails on a broken file of another folder, naming file, sequence and step', async () => {
    fs.writeFileSync(
      path.join(tmp, 'promo.ts'),
      `export default { id: 'promo', version: 1, description: 'x', steps: [{ kind: 'email', template: 'welcome' }, { kind: 'exit' }, { kind: 'email', template: 'nope' }] };\n`,
    );
    const out: string[] = [];
    expect(await runSequencesCli(['check', '--library', tmp], (l) => out.push(l))).toBe(1);
    const rel = path.relative(process.cwd(), tmp);
    expect(out).toContain(`${rel}/promo.ts: sequence "promo", step 2: email template "nope" does not exist [unknown-template]`);
    expect(out).toContain(`${rel}/promo.ts: sequence "promo", step 2: email can never run: no step leads to it (label it and branch or goto to it, or remove it) [unreachable-step]`);
    expect(out.at(-1)).toBe('sequences check failed: 2 problem(s)');
  });

  it('check fails when a step names a template that does not exist, inherited names included', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'inherited-'));
    fs.writeFileSync(path.join(dir, 'promo.ts'), `export default { id: 'promo', version: 1, description: 'x', steps: [{ kind: 'email', template: 'constructor' }, { kind: 'wait', duration: '1 day' }, { kind: 'email', template: 'toString' }] };\n`);
    const out: string[] = [];
    expect(await runSequencesCli(['check', '--library', dir], (l) => out.push(l))).toBe(1);
    expect(out.filter((l) => l.endsWith('[unknown-template]'))).toHaveLength(2);
    expect(out.at(-1)).toBe('sequences check failed: 2 problem(s)');
  });

  it('preview prints the timeline with every email, and writes HTML on request', async () => {
    const out: string[] = [];
    const html = path.join(tmp, 'html');
    expect(await runSequencesCli(['preview', 'onboarding', '--html', html, '--lead', 'firstName=Grace'], (l) => out.push(l))).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('at once   onboarding@v1 step 0: email "welcome"');
    expect(text).toContain('Subject: Welcome to Leadflow, Grace');
    expect(text).toContain('day 10    onboarding@v1 step 6: email "pricing-guide"');
    expect(fs.readdirSync(html).sort()).toEqual(['index.html', 'onboarding-v1-step0-welcome.html', 'onboarding-v1-step2-customer-stories.html', 'onboarding-v1-step4-product-tour.html', 'onboarding-v1-step6-pricing-guide.html']);
    expect(fs.readFileSync(path.join(html, 'onboarding-v1-step4-product-tour.html'), 'utf8')).toContain('<a href="https://leadflow.example.com/tour">Take the tour</a>');
    const help: string[] = [];
    expect(await runSequencesCli(['--help'], (l) => help.push(l))).toBe(0);
    expect(help.join('\n')).toMatch(/preview <id>/);
  });

  it('the CI command passes on the shipped library', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '-s', 'sequences', '--', 'check'], { cwd: path.resolve(LIBRARY_DIR, '../../..') });
    expect(stdout).toMatch(/^sequences check passed: 3 sequence\(s\)/m);
    // The scoring and fit rules are checked too (src/sequences/scoring.ts, test/unit/qualification.test.ts).
    expect(stdout).toMatch(/, 5 rule\(s\) v1, engagement filter v1 \(3 privacy proxies, 4 link scanners, clicks within 10 s of delivery, every link within 10 s\)$/m);
  });
});
