import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importWorkflowId } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestRole, type TestStack } from '../helpers/http-stack.js';

/**
 * CSV import over HTTP against the whole stack (dev server, real PostgreSQL, worker, SMTP sink):
 * the file's quirks, per-row errors, the job's workflow in Temporal, and the CLI as a user runs it.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let running: TestStack;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-import-'));

beforeAll(async () => {
  // Small pages: the job takes several activity calls even for a small file.
  running = await startTestStack({}, { importPageSize: 4 });
});

afterAll(async () => {
  await running?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function postCsv(csv: string, options: { role?: TestRole; query?: string; contentType?: string } = {}) {
  const response = await fetch(`${running.stack.apiUrl}/v1/imports${options.query ?? ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEYS[options.role ?? 'marketing']}`, 'content-type': options.contentType ?? 'text/csv' },
    body: csv,
  });
  return { status: response.status, body: await response.json() };
}

const finished = (id: string) =>
  eventually(
    async () => {
      const answer = await running.call('GET', `/v1/imports/${id}`, { role: 'ingest' });
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('completed');
      return answer.body;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );

describe('CSV import end to end', () => {
  it('imports the good rows of a file with a BOM, quoted fields, extra columns, bad emails and a repeated id, and reports the bad ones by row and column', async () => {
    const csv =
      '\uFEFFid,email,First Name,firstName,company,industry,plan\r\n' +
      'imp-1,Ada@Example.com,x,Ada,"Lovelace, Byron & Co","fin""tech",pro\r\n' +
      'imp-2,not-an-email,x,Bob,,retail,\r\n' +
      'imp-3,cy@example.com,x,Cy,"Quote ""Co""",,free\r\n' +
      'imp-1,again@example.com,x,Ada2,,,\r\n' +
      'imp-4,dee@example.com,x,Dee,,"multi\nline note",\r\n' +
      'imp-5,eve@example.com,x,Eve,,,,one-too-many\r\n';
    const accepted = await postCsv(csv, { query: '?sequence=webinar-invite' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ id: expect.stringMatching(/^imp-/), status: 'running', workflowId: importWorkflowId(accepted.body.id) });

    const done = await finished(accepted.body.id);
    expect(done).toMatchObject({ rows: 6, created: 3, updated: 0, refused: 3, sequence: 'webinar-invite' });
    expect(done.errors).toEqual([
      { row: 3, field: 'email', message: expect.any(String) },
      { row: 5, field: 'id', message: 'lead id "imp-1" already appears in row 2; only the first row counts' },
      { row: 7, field: 'row', message: 'has 8 fields, the header has 7' },
    ]);

    // Stored as POST /v1/leads stores them: email lower-cased, unknown columns as attributes.
    const { rows } = await running.stack.pool.query('SELECT id, email, first_name, company, attributes, enrol_sequence FROM leads WHERE id LIKE $1 ORDER BY id', ['imp-%']);
    expect(rows).toEqual([
      { id: 'imp-1', email: 'ada@example.com', first_name: 'Ada', company: 'Lovelace, Byron & Co', attributes: { 'First Name': 'x', industry: 'fin"tech', plan: 'pro' }, enrol_sequence: 'webinar-invite' },
      { id: 'imp-3', email: 'cy@example.com', first_name: 'Cy', company: 'Quote "Co"', attributes: { 'First Name': 'x', plan: 'free' }, enrol_sequence: 'webinar-invite' },
      { id: 'imp-4', email: 'dee@example.com', first_name: 'Dee', company: null, attributes: { 'First Name': 'x', industry: 'multi\nline note' }, enrol_sequence: 'webinar-invite' },
    ]);
    // Each new lead runs its workflow, and the welcome of its sequence goes out.
    for (const id of ['imp-1', 'imp-3', 'imp-4']) {
      expect((await running.call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body).toMatchObject({ stage: 'nurturing', sequence: { id: 'webinar-invite' } });
    }
    await eventually(async () => expect(await running.mailbox('ada@example.com')).toHaveLength(1));

    // The job in the Temporal UI: a summary, and its progress as current details.
    const handle = running.stack.client.workflow.getHandle(importWorkflowId(accepted.body.id));
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(await description.staticSummary()).toBe(`CSV import ${accepted.body.id}: 6 rows (3 refused) into webinar-invite`);
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(metadata.currentDetails).toBe('3 of 3 accepted rows done (3 created, 0 updated), 3 refused, 0 to go');
    // Staged profiles are dropped once done: the staging table keeps no PII.
    const staged = await running.stack.pool.query('SELECT count(*)::int AS n FROM import_rows WHERE import_id = $1 AND lead IS NOT NULL', [accepted.body.id]);
    expect(staged.rows[0].n).toBe(0);
  });

  it('updates the profile of leads that exist, as PATCH does, and keeps their sequence', async () => {
    const accepted = await postCsv('id,email,firstName,lastName,industry,region\nimp-1,ada@example.com,Augusta,,banking,emea\nimp-9,nine@example.com,Nine,Niner,,\n', { query: '?sequence=recycle' });
    expect(accepted.status).toBe(202);
    const done = await finished(accepted.body.id);
    expect(done).toMatchObject({ rows: 2, created: 1, updated: 1, refused: 0, errors: [] });
    const ada = (await running.call('GET', '/v1/leads/imp-1', { role: 'marketing' })).body;
    // Set cells replace, empty cells keep what was there, attributes merge key by key.
    expect(ada).toMatchObject({ firstName: 'Augusta', lastName: null, company: 'Lovelace, Byron & Co', attributes: { 'First Name': 'x', industry: 'banking', plan: 'pro', region: 'emea' } });
    expect(ada.sequence.id).toBe('webinar-invite');
    // The lead's workflow was told: its timeline records the profile change.
    await eventually(async () => {
      const timeline = (await running.call('GET', '/v1/leads/imp-1', { role: 'marketing' })).body.timeline as Array<{ kind: string }>;
      expect(timeline.map((entry) => entry.kind)).toContain('profile');
    });
    expect((await running.call('GET', '/v1/leads/imp-9', { role: 'marketing' })).body).toMatchObject({ firstName: 'Nine', sequence: { id: 'recycle' } });
  });

  it('imports a file far above the 64 KiB body limit, over several pages', async () => {
    const note = 'n'.repeat(20_000);
    const lines = ['id,email,note', ...Array.from({ length: 10 }, (_, i) => `big-${i},big-${i}@example.com,${note}`)];
    const accepted = await postCsv(lines.join('\n'));
    expect(accepted.status).toBe(202);
    const done = await finished(accepted.body.id);
    expect(done).toMatchObject({ rows: 10, created: 10, refused: 0, errors: [] });
    const { rows } = await running.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE id LIKE 'big-%'`);
    expect(rows[0].n).toBe(10);
  });

  it('refuses a file announced above 50 MiB before reading it', async () => {
    const url = new URL('/v1/imports', running.stack.apiUrl);
    const answer = await new Promise<{ status: number; body: string; closes: string | undefined }>((resolve, reject) => {
      const request = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${TEST_KEYS.marketing}`, 'content-type': 'text/csv', 'content-length': String(50 * 1024 * 1024 + 1) } }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, closes: response.headers.connection }));
      });
      request.on('error', reject);
      // Only the start of the announced body: the answer comes without the rest.
      request.write('id,email\n');
    });
    expect(answer.status).toBe(413);
    // The server hangs up rather than wait for 50 MiB that will not be read.
    expect(answer.closes).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'payload_too_large', message: 'a CSV import may be 50 MiB at most; split the file' });
  });

  it('refuses an unusable file, an unknown sequence, a JSON body and the wrong role, importing nothing', async () => {
    expect(await postCsv('email,name\nx@example.com,X\n')).toMatchObject({ status: 400, body: { error: 'invalid_csv', message: expect.stringContaining('needs a column "id"') } });
    expect(await postCsv('id,email\nq-1,"q@example.com\n')).toMatchObject({ status: 400, body: { error: 'invalid_csv' } });
    expect(await postCsv('id,email\nz-1,z@example.com\n', { query: '?sequence=constructor' })).toMatchObject({
      status: 400,
      body: { error: 'unknown_sequence', details: [{ path: 'querystring.sequence' }] },
    });
    expect((await postCsv('{"id":"j"}', { contentType: 'application/json' })).status).toBe(400);
    expect((await postCsv('id,email\nz-1,z@example.com\n', { role: 'sales' })).status).toBe(403);
    expect((await running.call('GET', '/v1/imports/imp-nope', { role: 'marketing' })).status).toBe(404);
    const { rows } = await running.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE id IN ('q-1', 'z-1')`);
    expect(rows[0].n).toBe(0);
  });

  it('runs the CLI against the real stack: uploads, follows, prints the summary and the refused rows', async () => {
    const file = path.join(dir, 'leads.csv');
    fs.writeFileSync(file, 'id,email,firstName\ncli-1,cli1@example.com,Cli\ncli-2,broken,Two\ncli-3,cli3@example.com,Three\n');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/tools/import-cli.ts', file, '--sequence', 'webinar-invite', '--interval', '0.2'], {
        cwd: ROOT,
        env: { ...process.env, LEADFLOW_API_URL: running.stack.apiUrl, LEADFLOW_API_KEY: TEST_KEYS.ingest },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.stderr).toBe('');
    // Done, with a refused row: exit 3.
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/Import imp-\S+ completed: 3 rows, 2 created, 0 updated, 1 refused \(workflow import-imp-\S+\)/);
    expect(result.stdout).toMatch(/\n {2}3 {7}email {11}Invalid email address/);
    const { rows } = await running.stack.pool.query(`SELECT id, enrol_sequence FROM leads WHERE id LIKE 'cli-%' ORDER BY id`);
    expect(rows).toEqual([
      { id: 'cli-1', enrol_sequence: 'webinar-invite' },
      { id: 'cli-3', enrol_sequence: 'webinar-invite' },
    ]);
  });
});
