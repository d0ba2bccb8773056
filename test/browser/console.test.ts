/// <reference lib="dom" />
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';

/**
 * The web console in Debian's Chromium (driven by playwright-core, no browser download) against
 * the whole embedded stack: sign-in, the review queue, a lead's story, a rejection that leaves
 * the queue and shows in the funnel, two salespeople accepting the same lead, the mailbox, and
 * phone-width layout. Screenshots go to test-artifacts/console/ (copies in docs/console/).
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts', 'console');
// Flags that work on a machine without network or GPU; Playwright adds --headless and a fresh profile.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAPTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

let t: TestStack;
let browser: Browser;
let consoleUrl: string;
/** Console errors and uncaught exceptions of every page (CSP violations show up here too). */
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}, so the browser tests cannot run. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (as root, `npm install` does this itself), or point CHROMIUM_PATH at a Chromium binary.',
    );
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  [t, browser] = await Promise.all([
    startTestStack({ SALES_OWNERS: 'olga@example.com,piet@example.com' }),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
  ]);
  consoleUrl = `${t.stack.apiUrl}/console/`;
  await seed();
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

let eventNo = 0;
async function event(leadId: string, type: string, properties?: Record<string, unknown>) {
  const answer = await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `b-${++eventNo}`, type, ...(properties ? { properties } : {}) } });
  expect(answer.status).toBe(202);
}

const stageOf = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body.stage;

async function enrol(id: string, profile: Record<string, string>, sequence = 'onboarding') {
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, sequence, ...profile } })).status).toBe(201);
}

/** Engagement worth 57 points, an opened welcome email among it; waits for the review. */
async function escalate(id: string) {
  for (const type of ['page.viewed', 'webinar.viewed', 'product.compared', 'product.compared']) await event(id, type);
  await event(id, 'email.opened', { template: 'welcome' });
  await event(id, 'pricing.viewed');
  await eventually(async () => expect(await stageOf(id)).toBe('sales_review'));
}

/** The queue, oldest first: ada, then grace (rejected once before, back again), then linus and ken. */
async function seed() {
  await enrol('ada', { firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines Ltd', timezone: 'Europe/London' });
  await enrol('grace', { firstName: 'Grace', lastName: 'Hopper', company: 'Compiler Co', timezone: 'America/New_York' }, 'recycle');
  await enrol('linus', { firstName: 'Linus', lastName: 'Torvalds', company: 'Kernel AB' });
  await enrol('ken', { firstName: 'Ken', lastName: 'Thompson', company: 'Bell Labs' });
  await escalate('ada');
  await escalate('grace');
  const rejected = await t.call('POST', '/v1/leads/grace/reject', { role: 'sales', body: { by: 'piet@example.com', reason: 'not_ready', notes: 'Budget opens next quarter.' } });
  expect(rejected.status).toBe(200);
  await escalate('grace');
  await escalate('linus');
  await escalate('ken');
  await eventually(async () => {
    const queue = (await t.call('GET', '/v1/leads?stage=sales_review', { role: 'sales' })).body.leads;
    expect(queue.map((l: { id: string }) => l.id)).toEqual(['ada', 'grace', 'linus', 'ken']);
  });
}

async function newPage(viewport = LAPTOP): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  return { context, page };
}

/** Signs in with the keyboard only: the key field has focus, Tab to the name, Enter submits. */
async function signIn(page: Page, key: string, by: string) {
  await page.goto(consoleUrl);
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('key');
  await page.keyboard.type(key);
  await page.keyboard.press('Tab');
  await page.keyboard.type(by);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
}

const queueIds = (page: Page) => page.locator('table.queue tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-lead')));

async function rejectedCount(page: Page): Promise<number> {
  await page.getByRole('link', { name: 'Funnel' }).click();
  const figure = page.getByTestId('figure-rejected').locator('dd');
  await figure.waitFor();
  return Number(await figure.textContent());
}

describe('web console', () => {
  it('shows no data without a key and refuses a wrong key', async () => {
    const { context, page } = await newPage();
    const apiCalls: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/v1/')) apiCalls.push(`${request.method()} ${request.url()}`);
    });
    await page.goto(consoleUrl);
    await page.getByRole('heading', { name: 'Leadflow console' }).waitFor();
    expect(apiCalls).toEqual([]);
    expect(await page.getByRole('table').count()).toBe(0);

    await page.getByLabel('Role key').fill('not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That key was not accepted');
    expect(apiCalls).toEqual([`GET ${t.stack.apiUrl}/v1/session`]);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await context.close();
  });

  it('lets a salesperson open the oldest lead, reject it with a reason, and see it leave the queue and count in the funnel', async () => {
    const { context, page } = await newPage();
    await signIn(page, TEST_KEYS.sales, 'sam@example.com');
    // The key lives in this tab's session storage, not in a cookie or local storage.
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(['leadflow.console.credentials']);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    await expect.poll(() => queueIds(page)).toEqual(['ada', 'grace', 'linus', 'ken']);
    const first = page.locator('table.queue tbody tr').first();
    expect(await first.locator('td[data-label="Score"]').textContent()).toBe('57');
    // The grade (business email and a company: 30 fit points) and the points each rule gave.
    expect(await first.locator('td[data-label="Grade"]').textContent()).toBe('C');
    expect(await first.locator('td[data-label="Why"]').textContent()).toBe('product.compared +40 · pricing.viewed +10 · webinar.viewed +5 · page.viewed +1 · email.opened +1');
    expect(await first.locator('td[data-label="SLA"]').textContent()).toBe('on time');
    expect(['olga@example.com', 'piet@example.com']).toContain(await first.locator('td[data-label="Owner"]').textContent());
    expect(await first.getByRole('link', { name: /lead-ada/ }).getAttribute('href')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/lead-ada$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'queue.png'), fullPage: true });

    const before = await rejectedCount(page);
    await page.getByRole('link', { name: 'Review queue' }).click();
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.getByRole('heading', { level: 1, name: 'Ada Lovelace' }).waitFor();
    // The lead's story: profile, score breakdown with points and age, emails and their opens, its workflow.
    await expect.poll(() => page.getByRole('heading', { name: 'Score breakdown' }).isVisible()).toBe(true);
    // A readable list: each line names its points, the rule, the event, its age and when it stops counting.
    const breakdown = page.getByTestId('score-breakdown').locator('li');
    expect(await breakdown.count()).toBe(6);
    expect(await breakdown.filter({ hasText: 'product.compared' }).first().innerText()).toMatch(/^\+20 from rule product\.compared for product\.compared, .* ago; counts until \d/);
    expect(await breakdown.first().innerText()).toMatch(/^\+1 from rule page\.viewed for page\.viewed, .* ago; counts until /);
    expect(await page.getByTestId('lead-grade').textContent()).toBe('C');
    const emails = page.getByRole('table', { name: /Marketing emails/ });
    expect(await emails.locator('tbody tr').filter({ hasText: 'welcome' }).locator('td[data-label="Engagement"]').textContent()).toMatch(/^opened .* ago$/);
    expect(await page.getByRole('link', { name: /Workflow in Temporal UI/ }).getAttribute('href')).toMatch(/\/namespaces\/default\/workflows\/lead-ada$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'lead.png'), fullPage: true });

    await page.getByLabel('Reason').selectOption('no_budget');
    await page.locator('#reject-notes').fill('No budget until Q3; try again then.');
    await page.getByRole('button', { name: 'Reject lead' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Rejected Ada Lovelace (no budget)');
    await expect.poll(() => queueIds(page)).toEqual(['grace', 'linus', 'ken']);
    expect(await stageOf('ada')).toBe('nurturing');
    // Not only in this tab: a fresh load of the queue (the read model) no longer lists the lead.
    await expect
      .poll(async () => {
        await page.reload();
        await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
        await page.locator('#queue-count').filter({ hasText: 'waiting' }).waitFor();
        return queueIds(page);
      }, { timeout: 20_000 })
      .toEqual(['grace', 'linus', 'ken']);

    await eventually(async () => expect(await rejectedCount(page)).toBe(before + 1), { intervalMs: 500 });
    const reasons = page.getByTestId('reasons-table');
    expect(await reasons.locator('tr').filter({ hasText: 'no budget' }).locator('td').textContent()).toBe('1');
    await page.getByRole('img', { name: /Time to decision/ }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'funnel.png'), fullPage: true });
    // Filters: one sequence (grace alone was enrolled in recycle), then a period that holds nobody yet.
    const enrolled = page.getByTestId('figure-enrolled').locator('dd');
    await page.getByLabel('Sequence', { exact: true }).selectOption('recycle');
    await expect.poll(() => enrolled.textContent()).toBe('1');
    await page.getByLabel('Sequence', { exact: true }).selectOption('');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Enrolled from').fill(tomorrow);
    await expect.poll(() => enrolled.textContent()).toBe('0');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => enrolled.textContent()).toBe('4');

    // A past review with its reason shows on the lead that was rejected before (grace).
    await page.goto(`${consoleUrl}#/leads/grace`);
    await page.getByRole('heading', { level: 1, name: 'Grace Hopper' }).waitFor();
    await expect.poll(() => page.locator('.reviews li').first().textContent()).toMatch(/Review #1: rejected \(not ready\) by piet@example\.com/);
    expect(await page.locator('.reviews blockquote').textContent()).toBe('Budget opens next quarter.');
    await context.close();
  });

  it('lets exactly one of two salespeople accepting the same lead win, and tells the other who did', async () => {
    const olga = await newPage();
    const piet = await newPage();
    await Promise.all([signIn(olga.page, TEST_KEYS.sales, 'olga@example.com'), signIn(piet.page, TEST_KEYS.sales, 'piet@example.com')]);
    for (const { page } of [olga, piet]) {
      await page.goto(`${consoleUrl}#/leads/linus`);
      await page.getByRole('button', { name: 'Accept lead' }).waitFor();
    }
    await Promise.all([olga.page.getByRole('button', { name: 'Accept lead' }).click(), piet.page.getByRole('button', { name: 'Accept lead' }).click()]);

    const outcome = async (page: Page) => {
      await expect.poll(async () => (await page.locator('.lost-race').count()) + (await page.getByRole('status').filter({ hasText: 'Accepted Linus Torvalds' }).count())).toBe(1);
      return (await page.locator('.lost-race').count()) ? 'lost' : 'won';
    };
    const results = { olga: await outcome(olga.page), piet: await outcome(piet.page) };
    expect(Object.values(results).sort()).toEqual(['lost', 'won']);
    const winner = results.olga === 'won' ? 'olga@example.com' : 'piet@example.com';
    const loser = results.olga === 'won' ? piet : olga;
    expect(await loser.page.locator('.lost-race .winner').textContent()).toBe(winner);
    expect(await loser.page.locator('.lost-race').textContent()).toMatch(/Someone decided first\..* accepted this lead (just now|.* ago)\. Your decision was not recorded\./);
    // The loser's page catches up: the lead is accepted and offers no decision any more.
    await loser.page.locator('.badge.stage-accepted').waitFor();
    expect(await loser.page.getByRole('button', { name: 'Accept lead' }).count()).toBe(0);
    await loser.page.screenshot({ path: path.join(ARTIFACTS, 'lost-race.png'), fullPage: true });

    expect(await stageOf('linus')).toBe('accepted');
    const decisions = (await t.call('GET', '/v1/leads/linus', { role: 'sales' })).body.history.filter((h: { kind: string }) => h.kind === 'decision');
    expect(decisions.map((d: { data: { by: string; decision: string } }) => [d.data.decision, d.data.by])).toEqual([['accepted', winner]]);

    // Won: the funnel's revenue card counts it, with its amount.
    expect((await t.call('POST', '/v1/leads/linus/outcome', { role: 'sales', body: { by: winner, outcome: 'won', amount: 4200, currency: 'EUR' } })).status).toBe(200);
    await olga.page.goto(`${consoleUrl}#/funnel`);
    const revenue = olga.page.getByTestId('revenue');
    await expect
      .poll(async () => {
        await olga.page.reload();
        await revenue.getByTestId('figure-won').waitFor();
        return revenue.getByTestId('figure-won').locator('dd').textContent();
      }, { timeout: 20_000 })
      .toBe('1');
    expect(await revenue.getByTestId('figure-amount-won').locator('dd').textContent()).toBe('4,200 EUR');
    expect(await revenue.locator('caption').allTextContents()).toEqual(expect.arrayContaining(['Revenue by sequence', 'Revenue by week']));
    await olga.context.close();
    await piet.context.close();
  });

  it('renders the emails the system sent as their recipient sees them, in a sandboxed frame', async () => {
    const { context, page } = await newPage();
    await signIn(page, TEST_KEYS.marketing, 'mia@example.com');
    // Marketing reads the queue and the funnel but gets no decision buttons.
    await page.getByRole('link', { name: 'Ken Thompson' }).click();
    await page.getByRole('heading', { level: 1, name: 'Ken Thompson' }).waitFor();
    await page.getByText('Decisions need a sales key.').waitFor();
    expect(await page.getByRole('button', { name: 'Accept lead' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Mailbox' }).click();
    await page.getByLabel('Recipient').fill('ken@example.com');
    await page.getByRole('button', { name: 'Show' }).click();
    const message = page.getByRole('button', { name: /to ken@example\.com/ }).first();
    await message.click();
    const frame = page.locator('iframe.email');
    expect(await frame.getAttribute('sandbox')).toBe('');
    const body = await frame.contentFrame().locator('body').textContent();
    expect(body).toContain('Ken');
    await page.screenshot({ path: path.join(ARTIFACTS, 'mailbox.png'), fullPage: true });
    await context.close();
  });

  it('imports a CSV from the import page with the keyboard: upload, progress, refused rows by row and column', async () => {
    const { context, page } = await newPage();
    await signIn(page, TEST_KEYS.marketing, 'mia@example.com');
    await page.getByRole('link', { name: 'Import' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import leads' }).waitFor();
    // Keyboard only: Tab to the file field (a file is chosen in the system dialog), the sequence, the button.
    const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
    for (let presses = 0; presses < 20 && (await focusedId()) !== 'import-file'; presses++) await page.keyboard.press('Tab');
    expect(await focusedId()).toBe('import-file');
    await page.locator('#import-file').setInputFiles({
      name: 'trade-show.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('\uFEFFid,email,firstName,company,booth\nshow-1,show1@example.com,Sara,"Acme, Inc.",B12\nshow-2,not-an-email,Tom,,C3\nshow-3,show3@example.com,Uma,,\n'),
    });
    await page.keyboard.press('Tab');
    expect(await focusedId()).toBe('import-sequence');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const sequence = await page.locator('#import-sequence').inputValue();
    expect(sequence).not.toBe('');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Import');
    await page.keyboard.press('Enter');

    // The page follows the job (its own address) until it completes.
    await expect.poll(() => page.url()).toMatch(/#\/imports\/imp-/);
    await expect.poll(() => page.locator('#import-counts').textContent(), { timeout: 30_000 }).toBe('2 of 2 accepted rows done: 2 created, 0 updated; 1 of 3 rows refused.');
    await page.getByRole('heading', { name: /Import imp-\S+ · completed/ }).waitFor();
    const progress = page.locator('progress');
    expect([await progress.getAttribute('value'), await progress.getAttribute('max')]).toEqual(['2', '2']);
    const refused = page.getByRole('table', { name: 'Refused rows' });
    expect(await refused.locator('tbody tr').allTextContents()).toEqual(['3emailInvalid email address']);
    expect(await page.getByRole('link', { name: /Import job in Temporal UI/ }).getAttribute('href')).toMatch(/\/namespaces\/default\/workflows\/import-imp-/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'import.png'), fullPage: true });
    expect((await t.call('GET', '/v1/leads/show-1', { role: 'marketing' })).body).toMatchObject({ firstName: 'Sara', company: 'Acme, Inc.', sequence: { id: sequence } });

    // A file the API refuses says why, and nothing changes.
    await page.getByRole('link', { name: 'Import', exact: true }).click();
    await page.locator('#import-file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('email\nx@example.com\n') });
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The file was not imported');
    expect(await page.getByRole('alert').textContent()).toContain('needs a column "id"');
    await context.close();
  });

  it('works on a phone: one column, no sideways scrolling, focus visible', async () => {
    const { context, page } = await newPage(PHONE);
    await signIn(page, TEST_KEYS.sales, 'sam@example.com');
    // Grace waits in every ordering of these tests (nobody decides on her).
    await expect.poll(() => queueIds(page)).toContain('grace');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'queue-phone.png'), fullPage: true });
    // A reload keeps the sign-in (session storage); on the fresh page the first Tab reaches the
    // skip link, shown with a focus outline.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { text: el.textContent, outline: style.outlineStyle, width: style.outlineWidth };
    });
    expect(focused).toEqual({ text: 'Skip to content', outline: 'solid', width: '3px' });
    // Keyboard only: Tab along to the lead, Enter opens it, and focus lands on its heading.
    const focusedText = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    for (let presses = 0; presses < 30 && (await focusedText()) !== 'Grace Hopper'; presses++) await page.keyboard.press('Tab');
    expect(await focusedText()).toBe('Grace Hopper');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Grace Hopper' }).waitFor();
    await expect.poll(() => page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent}`)).toBe('H1 Grace Hopper');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'lead-phone.png'), fullPage: true });
    await context.close();
  });

  it('logged no console error, CSP violation or uncaught exception on any page', () => {
    // The browser logs the answers the tests provoke on purpose: 401 for the wrong key, 409 for the lost race, 400 for the refused file.
    expect(pageErrors.filter((e) => !/status of (400|401|409)/.test(e))).toEqual([]);
  });
});
