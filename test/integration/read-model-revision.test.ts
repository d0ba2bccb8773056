import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities/index.js';
import type { RecordLeadStateInput } from '../../activities/types.js';
import type { LeadView } from '../../src/domain/lead.js';
import type { Mailer } from '../../src/infra/mailer.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// Real PostgreSQL: read-model writes of the lead engine v2 carry revisions, and an older one never
// overwrites a newer (a late retry of the escalation write cannot put an accepted lead back in the queue).
let pg: TestPostgres;
const mailer: Mailer = { send: async () => undefined, close: () => undefined } as unknown as Mailer;
const config = { mailFrom: 'Leadflow <marketing@example.com>', salesInbox: 'sales@example.com' };

beforeAll(async () => {
  pg = await startTestPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

const view = (id: string, stage: LeadView['stage'], score: number): LeadView => ({
  id,
  email: `${id}@example.com`,
  stage,
  score,
  reviewCount: 1,
  unsubscribed: false,
  sequence: { id: 'onboarding', version: 1, step: 1 },
  nextActionAt: null,
  scoreBreakdown: [],
  review: null,
  owner: null,
  slaBreaches: 0,
  lastRejectReason: null,
});
const write = (input: RecordLeadStateInput) => createActivities({ pool: pg.pool, mailer, config }).recordLeadState(input);
const row = async (id: string) => (await pg.pool.query<{ stage: string; score: number; revision: string }>('SELECT stage, score, revision FROM leads WHERE id = $1', [id])).rows[0];

describe('read model revisions (Postgres)', () => {
  it('keeps the newest revision: an older write that arrives late changes nothing, its rows still land', async () => {
    await pg.pool.query(`INSERT INTO leads (id, email, enrol_sequence) VALUES ('rev-1', 'rev-1@example.com', 'onboarding')`);
    await write({ view: view('rev-1', 'accepted', 50), revision: 5, transitions: [], decisions: [] });
    await write({
      view: view('rev-1', 'sales_review', 50),
      revision: 4,
      transitions: [{ from: 'nurturing', to: 'sales_review', reason: 'threshold_reached', score: 50, at: new Date().toISOString() }],
      decisions: [],
    });
    expect(await row('rev-1')).toEqual({ stage: 'accepted', score: 50, revision: '5' });
    const { rows } = await pg.pool.query(`SELECT to_stage FROM lead_transitions WHERE lead_id = 'rev-1'`);
    expect(rows.map((r) => r.to_stage)).toEqual(['sales_review']);
    await write({ view: view('rev-1', 'accepted', 55), revision: 6, transitions: [], decisions: [] });
    expect(await row('rev-1')).toEqual({ stage: 'accepted', score: 55, revision: '6' });
  });

  it('writes of the first engine (no revision) land as before', async () => {
    await pg.pool.query(`INSERT INTO leads (id, email, enrol_sequence) VALUES ('rev-2', 'rev-2@example.com', 'onboarding')`);
    await write({ view: view('rev-2', 'sales_review', 50), transitions: [], decisions: [] });
    await write({ view: view('rev-2', 'nurturing', 0), transitions: [], decisions: [] });
    expect(await row('rev-2')).toEqual({ stage: 'nurturing', score: 0, revision: '0' });
  });

  it('a marketing email naming a missing template fails for good (not retried), naming its code', async () => {
    const error = await createActivities({ pool: pg.pool, mailer, config })
      .sendNurtureEmail({ lead: { id: 'rev-3', email: 'rev-3@example.com' }, template: 'constructor', sendKey: 'rev-3:x@v1:e1:s0', sequence: 'x@v1', step: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'unknown_template', nonRetryable: true });
  });
});
