/// <reference lib="dom" />
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * The console's campaigns page in Chromium against the whole stack, with the keyboard only: a
 * segment whose count follows the form, a campaign started and watched to its end, another
 * cancelled mid-way. Screenshot in test-artifacts/console/ (a copy in docs/console/).
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts', 'console');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let t: TestStack;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  [t, browser] = await Promise.all([startTestStack(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })]);
  const zone = noonZone();
  const leads: Array<[string, Record<string, string>]> = [
    ['fin-1', { industry: 'fintech' }],
    ['fin-2', { industry: 'fintech' }],
    ['fin-3', { industry: 'fintech' }],
    ['fin-4', { industry: 'fintech' }],
    ['ret-1', { industry: 'retail' }],
    ...Array.from({ length: 12 }, (_, i): [string, Record<string, string>] => [`bulk-${String(i).padStart(2, '0')}`, { source: 'trade-show' }]),
  ];
  for (const [id, attributes] of leads) {
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, firstName: 'Ada', timezone: zone, attributes } })).status).toBe(201);
  }
  expect((await t.call('POST', '/v1/leads/fin-4/unsubscribe', { role: 'ingest' })).status).toBe(200);
  await eventually(async () => expect((await t.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE sequence_id IS NOT NULL`)).rows[0].n).toBe(leads.length));
  await eventually(async () => expect((await t.stack.pool.query(`SELECT unsubscribed FROM leads WHERE id = 'fin-4'`)).rows[0].unsubscribed).toBe(true));
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${t.stack.apiUrl}/console/`);
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('key');
  await page.keyboard.type(TEST_KEYS.marketing);
  await page.keyboard.press('Tab');
  await page.keyboard.type('mia@example.com');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
}

/** Tabs until `matches` says the focused element is the one wanted (at most 40 presses). */
async function tabTo(page: Page, matches: () => Promise<boolean>): Promise<void> {
  for (let presses = 0; presses < 40; presses++) {
    if (await matches()) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('never reached the element with Tab');
}
const focusedIs = (page: Page, id: string) => () => page.evaluate((want) => document.activeElement?.id === want, id);
const focusedText = (page: Page, text: string) => () => page.evaluate((want) => document.activeElement?.textContent?.trim() === want, text);
const dryRun = (page: Page) => page.getByTestId('dry-run').textContent();

describe('campaigns page', () => {
  it('with the keyboard: the count follows the segment, a campaign starts and shows its progress to the end', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
    await signIn(page);

    await tabTo(page, focusedText(page, 'Campaigns'));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    // Nurturing leads by default: every lead matches.
    await expect.poll(() => dryRun(page)).toMatch(/^17 leads match/);

    await tabTo(page, focusedIs(page, 'c-id'));
    await page.keyboard.type('fintech-webinar');
    await page.keyboard.press('Tab');
    // The sequence select: typing picks the option, as in any select.
    await page.keyboard.type('webinar');
    expect(await page.getByLabel('Sequence').inputValue()).toBe('webinar-invite');
    await tabTo(page, focusedIs(page, 'c-attributes'));
    await page.keyboard.type('industry=fintech');
    await expect.poll(() => dryRun(page)).toBe('4 leads match: fin-1, fin-2, fin-3, fin-4');
    await tabTo(page, focusedIs(page, 'c-min'));
    await page.keyboard.type('500');
    await expect.poll(() => dryRun(page)).toBe('0 leads match');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Backspace');
    await expect.poll(() => dryRun(page)).toBe('4 leads match: fin-1, fin-2, fin-3, fin-4');
    await tabTo(page, focusedText(page, 'Start campaign'));
    await page.keyboard.press('Enter');

    await expect.poll(() => page.getByRole('status').first().textContent()).toBe('Campaign fintech-webinar started: 4 leads match.');
    const card = page.locator('[data-campaign="fintech-webinar"]');
    await expect.poll(() => card.getByTestId('counts-fintech-webinar').textContent(), { timeout: 30_000 }).toBe('Enrolled 3 · skipped unsubscribed 1 · failed 0');
    await expect.poll(() => card.locator('.badge').textContent(), { timeout: 30_000 }).toBe('completed');
    expect(await card.getByRole('progressbar').evaluate((p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max])).toEqual([4, 4]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'campaigns.png'), fullPage: true });
    await eventually(async () => expect((await t.mailbox('fin-1@example.com')).map((m) => m.subject)).toContain('Ada, a live walkthrough for your team'));
    await context.close();
  });

  it('cancels a running campaign from the keyboard; the page says where it stopped', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await signIn(page);
    await page.goto(`${t.stack.apiUrl}/console/#/campaigns`);
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    await page.getByLabel('Campaign id').fill('trade-show');
    await page.getByLabel('Sequence').selectOption('recycle');
    await page.getByLabel('Attributes').fill('source=trade-show');
    await page.getByLabel('Leads per second').fill('2');
    await expect.poll(() => dryRun(page)).toMatch(/^12 leads match/);
    await page.getByRole('button', { name: 'Start campaign' }).focus();
    await page.keyboard.press('Enter');
    const cancel = page.getByRole('button', { name: 'Cancel trade-show' });
    await cancel.waitFor({ timeout: 30_000 });
    await cancel.focus();
    await page.keyboard.press('Enter');
    // The first page of 10 goes on to its end; the 2 leads after it are never asked.
    await expect.poll(() => page.getByRole('status').first().textContent(), { timeout: 30_000 }).toBe('Campaign trade-show cancelled: 10 enrolled; they stay enrolled.');
    const card = page.locator('[data-campaign="trade-show"]');
    await expect.poll(() => card.locator('.badge').textContent()).toBe('cancelled');
    expect(await card.getByRole('button', { name: 'Cancel trade-show' }).count()).toBe(0);
    const body = (await t.call('GET', '/v1/campaigns/trade-show', { role: 'marketing' })).body;
    expect(body).toMatchObject({ status: 'cancelled', enrolled: 10, matched: 12 });
    await context.close();
    expect(pageErrors).toEqual([]);
  });
});
