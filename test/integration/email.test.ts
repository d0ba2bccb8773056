import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createMailer, type Mailer } from '../../src/infra/mailer.js';
import { freePort } from '../../src/infra/net.js';
import { readMailbox, startSmtpSink, type SmtpSink } from '../../src/infra/smtp-sink.js';
import { eventually } from '../helpers/eventually.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// Real PostgreSQL, real SMTP over TCP into the sink, real nodemailer: the send path as it runs.
let pg: TestPostgres;
let sink: SmtpSink;
let mailer: Mailer;
const config = { mailFrom: 'Leadflow <marketing@example.com>', salesInbox: 'sales@example.com' };

beforeAll(async () => {
  pg = await startTestPostgres();
  sink = await startSmtpSink({ pool: pg.pool, port: await freePort() });
  mailer = createMailer(sink.url);
});

afterAll(async () => {
  mailer?.close();
  await sink?.stop();
  await pg?.stop();
});

const lead = (id: string) => ({ id, email: `${id}@example.com`, firstName: 'Ada', company: 'Acme' });

describe('email activities', () => {
  it('sends a nurture email once per send key, however often the activity is retried', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const input = { lead: lead('once'), template: 'welcome', sendKey: 'once:onboarding@v1:e1:s0', sequence: 'onboarding@v1', step: 0 };
    const first = await activities.sendNurtureEmail(input);
    const retry = await activities.sendNurtureEmail(input);
    expect(first.sent).toBe(true);
    expect(retry).toEqual({ sent: false, messageId: first.messageId });
    const inbox = await readMailbox(pg.pool, { to: 'once@example.com' });
    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.subject).toBe('Welcome to Leadflow, Ada');
    expect(inbox[0]!.text).toContain('teams like Acme');
    expect(inbox[0]!.headers['x-leadflow-send-key']).toBe(input.sendKey);
  });

  it('sends once when two attempts of the same send run at the same time', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const input = { lead: lead('race'), template: 'welcome', sendKey: 'race:onboarding@v1:e1:s0', sequence: 'onboarding@v1', step: 0 };
    const results = await Promise.all([activities.sendNurtureEmail(input), activities.sendNurtureEmail(input)]);
    expect(results.filter((r) => r.sent)).toHaveLength(1);
    expect(await readMailbox(pg.pool, { to: 'race@example.com' })).toHaveLength(1);
  });

  it('shows both deliveries, the second marked a repeat, when a crash after the SMTP hand-off makes the activity send again', async () => {
    // The first attempt hands the message to SMTP, then "crashes" before recording it.
    let crashes = 1;
    const crashingMailer: Mailer = {
      async send(message) {
        const result = await mailer.send(message);
        if (crashes-- > 0) throw new Error('worker died after SMTP accepted the message');
        return result;
      },
      close: () => undefined,
    };
    const activities = createActivities({ pool: pg.pool, mailer: crashingMailer, config });
    const input = { lead: lead('crash'), template: 'welcome', sendKey: 'crash:onboarding@v1:e1:s0', sequence: 'onboarding@v1', step: 0 };
    await expect(activities.sendNurtureEmail(input)).rejects.toThrow('worker died');
    const retried = await activities.sendNurtureEmail(input);
    expect(retried.sent).toBe(true);
    // The window of docs/reliability.md: the relay received the email twice, with the same
    // Message-ID, and the mailbox shows both, as a real relay's would.
    const inbox = await readMailbox(pg.pool, { to: 'crash@example.com' });
    expect(inbox.map((m) => [m.headers['x-leadflow-send-key'], m.repeat])).toEqual([
      [input.sendKey, false],
      [input.sendKey, true],
    ]);
    expect(inbox[1]!.messageId).toBe(inbox[0]!.messageId);
  });

  it('records a send the relay accepted when Postgres drops the transaction mid-send, so a retry sends nothing', async () => {
    // Postgres restarts while the message is with the relay: the connection holding the outbox
    // row's transaction dies, and with it the row. The attempt writes the record again.
    let handOffs = 0;
    let terminated: Array<{ pid: number; terminated: boolean }> = [];
    const droppingMailer: Mailer = {
      async send(message) {
        const result = await mailer.send(message);
        handOffs += 1;
        if (handOffs === 1) {
          terminated = (
            await pg.pool.query(
              `SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`,
            )
          ).rows;
        }
        return result;
      },
      close: () => undefined,
    };
    const activities = createActivities({ pool: pg.pool, mailer: droppingMailer, config });
    const input = { lead: lead('pgdrop'), template: 'welcome', sendKey: 'pgdrop:onboarding@v1:e1:s0', sequence: 'onboarding@v1', step: 0 };
    const first = await activities.sendNurtureEmail(input);
    expect(first.sent).toBe(true);
    // The fault happened: exactly one backend (the one holding the send's transaction) was killed,
    // and it is gone.
    expect(terminated).toEqual([{ pid: expect.any(Number), terminated: true }]);
    await eventually(async () => expect((await pg.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [terminated[0]!.pid])).rowCount).toBe(0));
    const { rows } = await pg.pool.query(`SELECT status, message_id FROM email_outbox WHERE send_key = $1`, [input.sendKey]);
    expect(rows).toEqual([{ status: 'sent', message_id: first.messageId }]);
    // The retry Temporal would make finds the send recorded: no second hand-off.
    expect(await activities.sendNurtureEmail(input)).toEqual({ sent: false, messageId: first.messageId });
    expect(handOffs).toBe(1);
  });

  it('skips marketing email to a suppressed address but still notifies sales about that lead', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config });
    await pg.pool.query(`INSERT INTO suppressions (email, reason) VALUES ('gone@example.com', 'unsubscribed')`);
    const nurture = await activities.sendNurtureEmail({ lead: lead('gone'), template: 'product-tour', sendKey: 'gone:s4', sequence: 'onboarding@v1', step: 4 });
    expect(nurture).toEqual({ sent: false, suppressed: true });
    const sales = await activities.notifySales({
      lead: lead('gone'),
      sendKey: 'gone:sales-review:1',
      score: 55,
      reviewCount: 1,
      events: [{ type: 'product.compared', points: 20, occurredAt: '2026-11-20T10:00:00.000Z' }],
    });
    expect(sales.sent).toBe(true);
    expect(await readMailbox(pg.pool, { to: 'gone@example.com' })).toHaveLength(0);
    const salesMail = (await readMailbox(pg.pool, { to: 'sales@example.com' })).find((m) => m.text?.includes('Lead: gone'));
    expect(salesMail?.subject).toContain('score 55');
    expect(salesMail?.text).toContain('product.compared  +20');
  });

  it('records the read model, transitions and decisions idempotently', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const at = '2026-11-20T10:00:00.000Z';
    const input = {
      view: {
        id: 'rm',
        email: 'rm@example.com',
        stage: 'nurturing' as const,
        score: 0,
        reviewCount: 1,
        unsubscribed: false,
        sequence: { id: 'recycle', version: 1, step: 0 },
        nextActionAt: null,
        scoreBreakdown: [],
        review: null,
        owner: 'olga@example.com',
        slaBreaches: 1,
        lastRejectReason: 'no_budget' as const,
      },
      transitions: [{ from: 'sales_review' as const, to: 'nurturing' as const, reason: 'rejected:no_budget', score: 55, at }],
      decisions: [{ reviewNo: 1, decision: 'rejected' as const, reason: 'no_budget', by: 'sam', at }],
    };
    await activities.recordLeadState(input);
    await activities.recordLeadState(input);
    const lead = await pg.pool.query('SELECT stage, review_count, sequence_id, stage_changed_at FROM leads WHERE id = $1', ['rm']);
    expect(lead.rows[0]).toMatchObject({ stage: 'nurturing', review_count: 1, sequence_id: 'recycle' });
    const handOff = await pg.pool.query('SELECT owner, sla_breaches, last_reject_reason, sla_state FROM leads WHERE id = $1', ['rm']);
    expect(handOff.rows[0]).toEqual({ owner: 'olga@example.com', sla_breaches: 1, last_reject_reason: 'no_budget', sla_state: null });
    expect(new Date(lead.rows[0].stage_changed_at).toISOString()).toBe(at);
    expect((await pg.pool.query(`SELECT * FROM lead_transitions WHERE lead_id = 'rm'`)).rowCount).toBe(1);
    expect((await pg.pool.query(`SELECT * FROM sales_decisions WHERE lead_id = 'rm'`)).rows).toMatchObject([{ decision: 'rejected', reason: 'no_budget' }]);
  });

  it('assigns review owners round-robin, and the same owner again on a retry', async () => {
    const owners = ['olga@example.com', 'piet@example.com', 'quinn@example.com'];
    const activities = createActivities({ pool: pg.pool, mailer, config: { ...config, salesOwners: owners } });
    for (const id of ['rr1', 'rr2', 'rr3', 'rr4']) {
      await pg.pool.query(`INSERT INTO leads (id, email, enrol_sequence) VALUES ($1, $2, 'onboarding')`, [id, `${id}@example.com`]);
    }
    const picked: string[] = [];
    for (const id of ['rr1', 'rr2', 'rr3', 'rr4']) picked.push((await activities.assignOwner({ leadId: id, reviewNo: 1 })).owner!);
    // Consecutive reviews go to consecutive owners, wrapping around the list.
    const start = owners.indexOf(picked[0]!);
    expect(picked).toEqual([0, 1, 2, 3].map((i) => owners[(start + i) % owners.length]));
    expect(await activities.assignOwner({ leadId: 'rr2', reviewNo: 1 })).toEqual({ owner: picked[1] });
    const none = createActivities({ pool: pg.pool, mailer, config });
    expect(await none.assignOwner({ leadId: 'rr1', reviewNo: 2 })).toEqual({ owner: null });
  });

  it('sends the SLA reminder to the owner and the second expiry to the manager, once each', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config: { ...config, salesManagerInbox: 'boss@example.com' } });
    const base = { lead: lead('sla'), reviewNo: 1, owner: 'olga@example.com', score: 55, waitingSince: '2026-11-20T10:00:00.000Z' };
    expect((await activities.remindSales({ ...base, sendKey: 'sla:sales-review:1:sla-1', level: 1 })).sent).toBe(true);
    expect((await activities.remindSales({ ...base, sendKey: 'sla:sales-review:1:sla-1', level: 1 })).sent).toBe(false);
    expect((await activities.remindSales({ ...base, sendKey: 'sla:sales-review:1:sla-2', level: 2 })).sent).toBe(true);
    const toOwner = await readMailbox(pg.pool, { to: 'olga@example.com' });
    const toBoss = await readMailbox(pg.pool, { to: 'boss@example.com' });
    expect(toBoss).toHaveLength(1);
    expect(toBoss[0]!.subject).toMatch(/^Escalation: Ada waits past the sales review SLA/);
    // The owner gets the reminder and a copy of the escalation.
    expect(toOwner.map((m) => m.subject.split(':')[0]).sort()).toEqual(['Escalation', 'Reminder']);
  });

  it('sends the content pinned in the lead snapshot, even for a template whose file is gone', async () => {
    const activities = createActivities({ pool: pg.pool, mailer, config });
    const content = { kind: 'marketing' as const, subject: 'Pinned subject', text: 'Pinned text', html: '<p>Pinned text</p>' };
    const result = await activities.sendNurtureEmail({ lead: lead('pinned'), template: 'deleted-template', sendKey: 'pinned:x@v1:e1:s0', sequence: 'x@v1', step: 0, content });
    expect(result.sent).toBe(true);
    const inbox = await readMailbox(pg.pool, { to: 'pinned@example.com' });
    expect(inbox.map((m) => [m.subject, (m.text ?? '').trim()])).toEqual([['Pinned subject', 'Pinned text']]);
  });

  it('keeps its SMTP connections open across sends when asked for a pool, one per send by default', async () => {
    // A TCP relay in front of the sink that counts the connections made through it.
    let connections = 0;
    const relay = net.createServer((socket) => {
      connections += 1;
      const upstream = net.connect(sink.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const url = `smtp://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
    const sendFive = async (prefix: string, through: Mailer) => {
      const activities = createActivities({ pool: pg.pool, mailer: through, config });
      for (let i = 0; i < 5; i++) {
        const result = await activities.sendNurtureEmail({ lead: lead(`${prefix}${i}`), template: 'welcome', sendKey: `${prefix}${i}:onboarding@v1:e1:s0`, sequence: 'onboarding@v1', step: 0 });
        expect(result.sent).toBe(true);
      }
    };
    const pooled = createMailer(url, { connections: 10 });
    const unpooled = createMailer(url);
    try {
      await sendFive('pooled', pooled);
      expect(connections).toBe(1);
      connections = 0;
      await sendFive('unpooled', unpooled);
      expect(connections).toBe(5);
      expect(await readMailbox(pg.pool, { to: 'pooled4@example.com' })).toHaveLength(1);
    } finally {
      pooled.close();
      unpooled.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});
