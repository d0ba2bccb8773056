/// <reference lib="dom" />
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';
import { calibrationPopulation, scriptLeads } from '../helpers/population.js';

/**
 * The console's scoring calibration page in Chromium against the whole stack, over a scripted
 * population with known lifts: the lift chart, current against suggested points, and the table
 * with its small-sample warnings; reached with the keyboard. Screenshot in
 * test-artifacts/console/ (a copy in docs/console/).
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
  await scriptLeads(t.stack.pool, calibrationPopulation());
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe('scoring calibration page', () => {
  it('shows marketing and sales the lift per rule, current against suggested points, and warns where the sample is small', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1100 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
    await page.goto(`${t.stack.apiUrl}/console/`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('key');
    await page.keyboard.type(TEST_KEYS.sales);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();

    // Sales reaches the page from the navigation with the keyboard.
    const link = page.getByRole('link', { name: 'Scoring' });
    await link.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Scoring calibration' }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('scoring-title');

    // Every lead, the 2025 ones included: 50 compared products, 20 accepted (40 %) against 15 of 60 (25 %).
    const row = (rule: string) => page.locator(`[data-testid="scoring-table"] tbody tr[data-rule="${rule}"]`);
    await row('product.compared').waitFor();
    expect(await row('product.compared').getByTestId('lift').textContent()).toBe('× 1.60');

    // Since 2026: lift 2, 31 points suggested instead of 20.
    await page.getByLabel('Leads enrolled since').fill('2026-01-01');
    await expect.poll(() => row('product.compared').getByTestId('lift').textContent()).toBe('× 2.00');
    expect(await row('product.compared').getByTestId('suggested').textContent()).toBe('31');
    const cells = await row('product.compared').locator('th, td').allTextContents();
    expect(cells.slice(0, 6)).toEqual(['product.compared', '40', '30', '20', '10 (no budget 10)', '5']);
    expect(cells[7]).toBe('20');
    expect(cells[9]).toBe('40 leads with it, 60 without');
    // Nobody viewed a webinar, and every lead viewed a page: no lift, a plain warning each.
    expect(await row('webinar.viewed').getByRole('note').textContent()).toBe('⚠ only 0 lead(s) had webinar.viewed (fewer than 30): too few to trust its lift');
    expect(await row('page.viewed').getByRole('note').textContent()).toContain('nothing to compare its leads with');
    expect(await page.getByTestId('figure-accepted').locator('dd').textContent()).toBe('35 (70 %)');

    // The charts carry their figures for screen readers.
    const liftChart = await page.getByRole('img', { name: /^Lift per rule:/ }).getAttribute('aria-label');
    expect(liftChart).toContain('product.compared × 2.00');
    expect(liftChart).toContain('webinar.viewed – (too few leads)');
    const points = await page.getByRole('img', { name: /^Points per rule:/ }).getAttribute('aria-label');
    expect(points).toContain('product.compared 20 now, 31 suggested');

    await page.screenshot({ path: path.join(ARTIFACTS, 'scoring.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('is not in the navigation of an ingest key', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${t.stack.apiUrl}/console/`);
    await page.getByLabel('Role key').fill(TEST_KEYS.ingest);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    expect(await page.getByRole('link', { name: 'Scoring' }).count()).toBe(0);
    await page.goto(`${t.stack.apiUrl}/console/#/scoring`);
    await page.getByRole('heading', { level: 1, name: 'Not available with this key' }).waitFor();
    await context.close();
  });
});
