import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LeadProfile } from '../domain/lead.js';
import { ownEntry } from '../domain/own-key.js';
import { indexIsCurrent, INDEX_FILE, LIBRARY_DIR, loadLibraryFolder, writeIndex } from '../infra/sequence-library.js';
import { checkLibrary, formatProblem, type Problem } from '../sequences/check.js';
import { SequenceSchema, type Sequence } from '../sequences/model.js';
import { formatOffset, previewSequence } from '../sequences/preview.js';
import { checkRules, formatRuleProblem } from '../sequences/rules-check.js';
import { DEFAULT_RULES, DEFAULT_SCORING, KNOWN_ATTRIBUTES } from '../sequences/scoring.js';
import { checkEngagementFilter, DEFAULT_ENGAGEMENT_FILTER } from '../sequences/engagement-filter.js';
import { templates as builtInTemplates, type EmailTemplate } from '../sequences/templates.js';

const HELP = `npm run sequences -- <command> [options]

Marketing's tool for the nurture sequences in src/sequences/library/ (one file per sequence).

Commands:
  check                  Validate every sequence and template: shape, unknown templates, labels
                         and sequences, unknown event types, unreachable steps, loops without a
                         wait, templates reading fields leads do not have or printing "undefined".
                         Each problem names the file, the sequence and the step. Exit 1 on any.
                         Also the scoring and fit rules (src/sequences/scoring.ts): unknown event
                         types and rules that can never match fail; fit rules reading attributes
                         no source sends are warnings. And the engagement filter
                         (src/sequences/engagement-filter.ts): patterns, address ranges, ids.
  preview <id>           Print the sequence for a sample lead as a timeline: when each step runs
                         for a lead who never engages, each email's subject and text, and the
                         steps only engagement reaches.
  index                  Rewrite src/sequences/library/index.ts after adding or removing a file
                         (check fails while the index misses one).
  list                   The sequences and their versions.

Options:
  --html <dir>           (preview) also write each email as an HTML file into <dir>, with index.html
  --lead key=value       (preview) sample lead field, repeatable: firstName, lastName, company, email, timezone
  --library <dir>        read sequence files from another folder (tests, drafts)
  -h, --help             this help

Examples:
  npm run sequences -- check
  npm run sequences -- preview webinar-invite
  npm run sequences -- preview onboarding --html out/onboarding --lead firstName=Grace --lead company=Navy`;

interface Args {
  command?: string;
  positional: string[];
  html?: string;
  library?: string;
  lead: Record<string, string>;
  help: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { positional: [], lead: {}, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') args.help = true;
    else if (a === '--html') args.html = argv[++i];
    else if (a === '--library') args.library = argv[++i];
    else if (a === '--lead') {
      const [key, ...value] = (argv[++i] ?? '').split('=');
      if (!key || value.length === 0) throw new UsageError(`--lead takes key=value, e.g. --lead firstName=Grace`);
      args.lead[key] = value.join('=');
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (!args.command) args.command = a;
    else args.positional.push(a);
  }
  return args;
}

class UsageError extends Error {}

const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

async function load(dir: string) {
  const loaded = await loadLibraryFolder(dir);
  const templates: Record<string, EmailTemplate> = { ...builtInTemplates };
  for (const t of loaded.templates) templates[t.id] = t;
  return { ...loaded, templates };
}

async function check(dir: string, out: (line: string) => void): Promise<number> {
  const { files, templates, importErrors } = await load(dir);
  const problems: Problem[] = importErrors.map((e) => ({ kind: 'invalid', file: e.file, sequence: '?', message: e.message }));
  problems.push(...checkLibrary(files, templates, Object.keys(DEFAULT_SCORING)));
  const rel = path.relative(process.cwd(), dir) || '.';
  for (const p of problems) out(`${rel}/${formatProblem(p)}`);
  let count = problems.length;
  const ruleProblems = checkRules(DEFAULT_RULES, Object.keys(DEFAULT_SCORING), KNOWN_ATTRIBUTES);
  for (const p of ruleProblems) out(`src/sequences/scoring.ts: ${formatRuleProblem(p)}`);
  count += ruleProblems.filter((p) => p.severity === 'error').length;
  const filterProblems = checkEngagementFilter(DEFAULT_ENGAGEMENT_FILTER);
  for (const p of filterProblems) out(`src/sequences/engagement-filter.ts: ${p}`);
  count += filterProblems.length;
  if (path.resolve(dir) === path.resolve(LIBRARY_DIR) && !indexIsCurrent(dir)) {
    out(`${rel}/${INDEX_FILE}: does not list exactly the files of the folder: run npm run sequences -- index`);
    count += 1;
  }
  if (count > 0) {
    out(`sequences check failed: ${count} problem(s)`);
    return 1;
  }
  const ruleCount = (DEFAULT_RULES.scoring?.length ?? 0) + (DEFAULT_RULES.fit?.rules.length ?? 0);
  const f = DEFAULT_ENGAGEMENT_FILTER;
  out(
    `sequences check passed: ${files.length} sequence(s) in ${rel}, ${Object.values(templates).filter((t) => t.kind === 'marketing').length} marketing template(s), ${ruleCount} rule(s) v${DEFAULT_RULES.version}, ` +
      `engagement filter v${f.version} (${f.privacyProxies.length} privacy proxies, ${f.linkScanners.length} link scanners, clicks within ${f.clickWithinSeconds} s of delivery, every link within ${f.allLinksWithinSeconds} s)`,
  );
  return 0;
}

async function preview(dir: string, args: Args, out: (line: string) => void): Promise<number> {
  const id = args.positional[0];
  if (!id) throw new UsageError('preview needs a sequence id: npm run sequences -- preview <id>');
  const { files, templates } = await load(dir);
  const sequences: Record<string, Sequence> = {};
  for (const f of files) {
    const parsed = SequenceSchema.safeParse(f.definition);
    if (parsed.success) sequences[parsed.data.id] = parsed.data;
  }
  const sequence = ownEntry(sequences, id);
  if (!sequence) {
    out(`no valid sequence "${id}" (known: ${Object.keys(sequences).join(', ')}); npm run sequences -- check tells why`);
    return 1;
  }
  const lead: LeadProfile = { id: 'sample-lead', email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines', ...args.lead };
  // The default program's rules (imported late: the catalog validates the whole library on load).
  const { defaultProgram } = await import('../sequences/catalog.js').catch(() => ({ defaultProgram: undefined }));
  const result = previewSequence(sequence, { sequences, templates, lead, ...(defaultProgram ? { program: defaultProgram } : {}) });

  out(result.title);
  out(`sample lead: ${[lead.firstName, lead.lastName].filter(Boolean).join(' ')} <${lead.email}>${lead.company ? `, ${lead.company}` : ''}`);
  for (const rule of result.rules) out(`rule: ${rule}`);
  out('');
  out('Timeline of a lead who never engages:');
  const printEntry = (e: (typeof result.path)[number]) => {
    const when = e.atMs === undefined ? '' : formatOffset(e.atMs).padEnd(10);
    out(`  ${when}${e.sequence} step ${e.step}${e.label ? ` [${e.label}]` : ''}: ${e.text}`);
    if (e.email) {
      out(`      Subject: ${e.email.subject}`);
      for (const line of e.email.text.split('\n')) out(`      | ${line}`);
    }
  };
  result.path.forEach(printEntry);
  if (result.branches.length) {
    out('');
    out('Only reached through engagement:');
    result.branches.forEach(printEntry);
  }

  if (args.html) {
    fs.mkdirSync(args.html, { recursive: true });
    const links: string[] = [];
    for (const e of [...result.path, ...result.branches]) {
      if (!e.email) continue;
      const file = `${e.sequence.replace('@', '-')}-step${e.step}-${e.email.template}.html`;
      fs.writeFileSync(
        path.join(args.html, file),
        `<!doctype html><meta charset="utf-8"><title>${escapeHtml(e.email.subject)}</title>\n<h1>${escapeHtml(e.email.subject)}</h1>\n${e.email.html}\n`,
      );
      links.push(`<li>${e.atMs === undefined ? 'on engagement' : escapeHtml(formatOffset(e.atMs))}: <a href="${file}">${escapeHtml(e.email.subject)}</a> (${escapeHtml(e.sequence)} step ${e.step})</li>`);
    }
    fs.writeFileSync(path.join(args.html, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${escapeHtml(result.title)}</title>\n<h1>${escapeHtml(result.title)}</h1>\n<ul>\n${links.join('\n')}\n</ul>\n`);
    out('');
    out(`wrote ${links.length} email(s) and index.html to ${args.html}`);
  }
  return 0;
}

/** Runs the CLI; returns the exit code. */
export async function runSequencesCli(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    out(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help || !args.command) {
    out(HELP);
    return args.help ? 0 : 2;
  }
  const dir = path.resolve(args.library ?? LIBRARY_DIR);
  try {
    switch (args.command) {
      case 'check':
        return await check(dir, out);
      case 'preview':
        return await preview(dir, args, out);
      case 'index':
        out(writeIndex(dir) ? `wrote ${path.relative(process.cwd(), path.join(dir, INDEX_FILE))}` : 'index already lists every file');
        return 0;
      case 'list': {
        const { files } = await load(dir);
        for (const f of files) {
          const parsed = SequenceSchema.safeParse(f.definition);
          out(parsed.success ? `${parsed.data.id}@v${parsed.data.version}  ${f.file}  ${parsed.data.description}` : `(invalid)  ${f.file}`);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${args.command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out(`${error.message}\n\n${HELP}`);
      return 2;
    }
    throw error;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  runSequencesCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
