/**
 * Screenshots of a lead in the Temporal UI, taken with headless Chromium (Debian's `chromium`)
 * through playwright-core: the lead's workflow page with its history, and the workflow list
 * filtered by the lead search attributes. Used for the README's pictures; run it against a
 * running `npm start`.
 *
 *   node --import tsx scripts/screenshot-temporal-ui.ts --lead ada [--ui http://127.0.0.1:8233] [--out docs/images]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { LEAD_WORKFLOW_TYPE } from '../workflows/messages.js';

const HELP = `node --import tsx scripts/screenshot-temporal-ui.ts --lead <id> [options]

  --lead ID        the lead whose workflow page to capture (workflow lead-<ID>)
  --ui URL         Temporal UI base URL (default http://127.0.0.1:8233)
  --namespace NS   Temporal namespace (default "default")
  --query Q        list filter for the second picture (default LeadStage="sales_review")
  --out DIR        where the PNG files go (default docs/images)
  --chromium PATH  browser binary (default /usr/bin/chromium)
  -h, --help       this text`;

const { values } = parseArgs({
  options: {
    lead: { type: 'string' },
    ui: { type: 'string', default: 'http://127.0.0.1:8233' },
    namespace: { type: 'string', default: 'default' },
    query: { type: 'string', default: 'LeadStage="sales_review"' },
    out: { type: 'string', default: 'docs/images' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || !values.lead) {
  console.log(HELP);
  process.exit(values.help ? 0 : 2);
}
if (!fs.existsSync(values.chromium)) {
  console.error(`screenshot: no browser at ${values.chromium} (apt-get install chromium, or pass --chromium)`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: values.chromium,
  // Without the background-networking flags Chromium keeps dialling Google on this closed network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1200 } });
  const ns = encodeURIComponent(values.namespace);
  fs.mkdirSync(values.out, { recursive: true });

  const workflowUrl = `${values.ui}/namespaces/${ns}/workflows/lead-${encodeURIComponent(values.lead)}`;
  await page.goto(workflowUrl, { waitUntil: 'domcontentloaded' });
  // The history table is drawn after the UI has fetched the events.
  await page.getByText(LEAD_WORKFLOW_TYPE).first().waitFor({ timeout: 30_000 });
  await page.getByText('ActivityTaskCompleted', { exact: false }).first().waitFor({ timeout: 30_000 }).catch(() => undefined);
  await page.waitForTimeout(1500);
  const history = path.join(values.out, 'temporal-ui-lead-history.png');
  await page.screenshot({ path: history, fullPage: false });
  console.log(`wrote ${history}`);

  const listUrl = `${values.ui}/namespaces/${ns}/workflows?query=${encodeURIComponent(values.query)}`;
  await page.goto(listUrl, { waitUntil: 'domcontentloaded' });
  await page.getByText(`lead-${values.lead}`).first().waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1000);
  const list = path.join(values.out, 'temporal-ui-lead-search.png');
  await page.screenshot({ path: list, fullPage: false });
  console.log(`wrote ${list}`);
} finally {
  await browser.close();
}
