import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * Open and click tracking and one-click unsubscribe over HTTP on the whole stack: the links in a
 * real sent email, the events they become (deduplicated), a click that moves a branching
 * sequence on, forged and borrowed tokens refused, and the sequence migration route.
 */
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ TRACKING_SECRET: 'e2e-tracking-secret-0123' });
});
afterAll(async () => {
  await t?.stop();
});

interface Mail {
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}
const mails = async (to: string): Promise<Mail[]> => (await t.call('GET', `/v1/dev/mailbox?to=${encodeURIComponent(to)}`)).body.messages;
const lead = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body;
const get = (url: string, init: RequestInit = {}) => fetch(url.startsWith('http') ? url : `${t.stack.apiUrl}${url}`, { redirect: 'manual', ...init });
const hrefs = (html: string) => [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

async function enrol(id: string, sequence: string, timezone?: string): Promise<Mail> {
  const created = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, firstName: 'Ada', sequence, ...(timezone ? { timezone } : {}) } });
  expect(created.status).toBe(201);
  return eventually(async () => {
    const [first] = await mails(`${id}@example.com`);
    expect(first).toBeDefined();
    return first!;
  });
}

describe('tracking links in marketing email', () => {
  it('turns an open and a click into deduplicated events; the click moves the branching sequence on', async () => {
    const timezone = noonZone();
    const email = await enrol('trk-a', 'webinar-invite', timezone);
    const links = hrefs(email.html);
    const click = links.find((l) => l.includes('/v1/t/trk-a/click?'))!;
    const pixel = links.find((l) => l.includes('/v1/t/trk-a/open?'))!;
    const unsubscribe = links.find((l) => l.includes('/v1/t/trk-a/unsubscribe?'))!;
    expect([click, pixel, unsubscribe].every((l) => l.startsWith(t.stack.apiUrl))).toBe(true);
    expect(email.text).toContain(`Save your seat: ${click}`);
    expect(email.text).toContain(`Unsubscribe: ${unsubscribe}`);
    expect(email.headers['list-unsubscribe']).toBe(`<${unsubscribe}>`);
    expect(email.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    for (let i = 0; i < 2; i++) {
      const opened = await get(pixel);
      expect([opened.status, opened.headers.get('content-type')]).toEqual([200, 'image/gif']);
    }
    // An hour after delivery: a click within seconds of it is a link scanner's, and scores nothing.
    await t.stack.pool.query(`UPDATE email_outbox SET sent_at = sent_at - interval '1 hour' WHERE lead_id = 'trk-a'`);
    const clicked = await get(click);
    expect([clicked.status, clicked.headers.get('location')]).toEqual([302, 'https://leadflow.example.com/webinar']);

    // Opened twice, counted once (+1); clicked (+3); the click ends the waitFor: the deep dive goes out.
    await eventually(async () => expect(await lead('trk-a')).toMatchObject({ score: 4 }));
    const events = (await lead('trk-a')).history.filter((h: { kind: string }) => h.kind === 'event');
    expect(events.map((e: { data: { type: string } }) => e.data.type).sort()).toEqual(['email.clicked', 'email.opened']);
    expect(events[0].data.properties).toMatchObject({ template: 'webinar-invite' });
    await eventually(async () => expect((await mails('trk-a@example.com')).map((m) => m.subject)).toContain('Going further with Leadflow at your company'));
    // The lead list (and review queue) shows the engagement under the email it came from.
    const listed = (await t.call('GET', '/v1/leads?limit=50', { role: 'sales' })).body.leads.find((l: { id: string }) => l.id === 'trk-a');
    const invite = listed.emails.find((e: { template: string }) => e.template === 'webinar-invite');
    expect(invite.engagement.map((e: { type: string }) => e.type).sort()).toEqual(['email.clicked', 'email.opened']);
    const state = await lead('trk-a');
    expect(state.delivery).toMatchObject({ timezone, sendWindow: { start: '08:00', end: '20:00' }, frequencyCap: { max: 3, per: '7 days' }, decayAfter: '90 days' });
  });

  it('refuses a forged token and another lead’s token with 403, recording nothing', async () => {
    const mine = await enrol('trk-b', 'onboarding');
    const theirs = await enrol('trk-c', 'onboarding');
    const myPixel = hrefs(mine.html).find((l) => l.includes('/open?'))!;
    const theirPixel = hrefs(theirs.html).find((l) => l.includes('/open?'))!;
    const token = new URL(theirPixel).searchParams.get('t')!;

    const borrowed = await get(`/v1/t/trk-b/open?t=${token}`);
    expect(borrowed.status).toBe(403);
    expect(await borrowed.json()).toMatchObject({ error: 'invalid_token' });
    const forged = await get(`${myPixel.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(403);
    const wrongAction = await get(myPixel.replace('/open?', '/click?'));
    expect(wrongAction.status).toBe(403);

    const b = await lead('trk-b');
    expect(b.score).toBe(0);
    expect(b.history.filter((h: { kind: string }) => h.kind === 'event')).toEqual([]);
  });

  it('unsubscribes in one click: GET shows a button and changes nothing, the RFC 8058 POST unsubscribes', async () => {
    const email = await enrol('trk-d', 'onboarding');
    const unsubscribe = hrefs(email.html).find((l) => l.includes('/unsubscribe?'))!;
    const page = await get(unsubscribe);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect((await lead('trk-d')).unsubscribed).toBe(false);

    const done = await get(unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(done.status).toBe(200);
    await eventually(async () => expect(await lead('trk-d')).toMatchObject({ unsubscribed: true }));
  });
});

describe('POST /v1/sequences/{id}/migrate', () => {
  it('answers for a known sequence (no lead on an older version here) and refuses an unknown one', async () => {
    const ok = await t.call('POST', '/v1/sequences/onboarding/migrate', { role: 'marketing', body: {} });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ sequence: 'onboarding', version: 1, signalled: [] });
    const unknown = await t.call('POST', '/v1/sequences/no-such-thing/migrate', { role: 'marketing', body: {} });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'unknown_sequence']);
    expect((await t.call('POST', '/v1/sequences/onboarding/migrate', { role: 'sales', body: {} })).status).toBe(403);
  });
});
