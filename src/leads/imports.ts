import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { LeadProfile } from '../domain/lead.js';
import { inTransaction, type Pool } from '../infra/db.js';
import { IMPORT_WORKFLOW_TYPE, importWorkflowId, LEADS_TASK_QUEUE, type ImportProgress, type ImportWorkflowInput } from '../../workflows/messages.js';
import { DomainError, ErrorCodes } from '../domain/errors.js';
import { MAX_REPORTED_ERRORS } from '../domain/imports.js';
import { inLanes } from './lanes.js';
import { isTemporalUnavailable, LeadService } from './service.js';

/** Why a row of an import was refused; `row` counts records as a spreadsheet does (header = 1). */
export interface ImportRowError {
  row: number;
  field: string;
  message: string;
}

/** One data row of an import: the lead it describes, or why it was refused. */
export type ImportRow = { row: number; lead: LeadProfile } | { row: number; errors: ImportRowError[] };

export type ImportStatus = 'running' | 'completed';

export interface ImportView extends Omit<ImportProgress, 'remaining'> {
  id: string;
  status: ImportStatus;
  sequence: string;
  workflowId: string;
  createdAt: string;
  finishedAt: string | null;
  /** The first MAX_REPORTED_ERRORS problems, by row; `refused` counts them all. */
  errors: ImportRowError[];
}

/** Rows written to the staging table per statement while a file streams in. */
const STAGE_BATCH = 1000;
/** How long the stage waits for Temporal to start the job before answering 503 (and staging nothing). */
const START_DEADLINE_MS = 5000;

/**
 * How far an import may run ahead of the workers: leads started whose workflow has not run its
 * first task. Starting is far quicker than a worker's first task and welcome email (40 against
 * 17 leads a second in the bench), so without a bound a 100,000-row file queued its leads' tasks
 * by the tens of thousands, and a lead that signed up meanwhile waited behind all of them.
 */
export interface ImportAhead {
  /** Leads started and not yet run, at most (the default of the activity: 200). */
  max: number;
  /** The longest wait for the workers before a chunk goes anyway. */
  waitMs: number;
  /** How often the count is asked again while waiting (default 1 s). */
  pollMs?: number;
  sleep: (ms: number) => Promise<void>;
  /** Called on every wait (the activity heartbeats). */
  onWait?: (waiting: number) => void;
}

export class ImportNotFoundError extends Error {
  constructor(readonly importId: string) {
    super(`import ${importId} does not exist`);
    this.name = 'ImportNotFoundError';
  }
}

/**
 * CSV imports as durable jobs: `stage` writes a file's rows to Postgres and starts the import's
 * workflow (both or neither), `processPage` is what the workflow's activity runs page by page,
 * `get` answers the status. Leads are created and their workflows started through LeadService,
 * as `POST /v1/leads` does.
 */
export class ImportService {
  private readonly leads: LeadService;

  constructor(private readonly deps: { client: Client; pool: Pool; leads?: LeadService; pageSize?: number }) {
    this.leads = deps.leads ?? new LeadService({ client: deps.client, pool: deps.pool });
  }

  /**
   * Stages every row (accepted leads and refused rows with their errors) in one transaction and
   * starts `import-<id>` before committing: when the start fails nothing is staged and the caller
   * sends the file again; when the commit fails after the start, the job finds no import and fails.
   */
  async stage(sequence: string, rows: AsyncIterable<ImportRow>): Promise<{ id: string; status: ImportStatus; workflowId: string }> {
    const id = `imp-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(6).toString('hex')}`;
    await inTransaction(this.deps.pool, async (db) => {
      await db.query(`INSERT INTO imports (id, sequence, status) VALUES ($1, $2, 'running')`, [id, sequence]);
      let leads: Array<{ row: number; lead: LeadProfile }> = [];
      let errors: ImportRowError[] = [];
      let total = 0;
      let refused = 0;
      const flush = async () => {
        if (leads.length) {
          await db.query(
            `INSERT INTO import_rows (import_id, row_no, lead_id, lead)
             SELECT $1, x.row, x.lead->>'id', x.lead FROM jsonb_to_recordset($2::jsonb) AS x(row integer, lead jsonb)`,
            [id, JSON.stringify(leads)],
          );
        }
        if (errors.length) {
          await db.query(
            `INSERT INTO import_errors (import_id, row_no, field, message)
             SELECT $1, x.row, x.field, x.message FROM jsonb_to_recordset($2::jsonb) AS x(row integer, field text, message text)`,
            [id, JSON.stringify(errors)],
          );
        }
        leads = [];
        errors = [];
      };
      for await (const item of rows) {
        total += 1;
        if ('lead' in item) leads.push(item);
        else {
          refused += 1;
          errors.push(...item.errors);
        }
        if (leads.length + errors.length >= STAGE_BATCH) await flush();
      }
      await flush();
      await db.query('UPDATE imports SET rows = $2, refused = $3 WHERE id = $1', [id, total, refused]);
      const start = () =>
        this.deps.client.workflow.start(IMPORT_WORKFLOW_TYPE, {
          workflowId: importWorkflowId(id),
          taskQueue: LEADS_TASK_QUEUE,
          args: [{ importId: id, ...(this.deps.pageSize ? { pageSize: this.deps.pageSize } : {}) } satisfies ImportWorkflowInput],
          staticSummary: `CSV import ${id}: ${total} rows (${refused} refused) into ${sequence}`,
          workflowIdConflictPolicy: 'FAIL',
        });
      try {
        await this.deps.client.connection.withDeadline(Date.now() + START_DEADLINE_MS, start);
      } catch (error) {
        if (!isTemporalUnavailable(error)) throw error;
        throw new DomainError(ErrorCodes.temporalUnavailable, `Temporal did not answer within ${START_DEADLINE_MS / 1000} s: nothing was imported; send the file again in a moment`, {
          retryAfterSeconds: 5,
        });
      }
    });
    return { id, status: 'running', workflowId: importWorkflowId(id) };
  }

  /** The import's status, counts and first errors. */
  async get(importId: string): Promise<ImportView> {
    const { rows } = await this.deps.pool.query<{ id: string; status: ImportStatus; sequence: string; rows: number; refused: number; created_at: Date; finished_at: Date | null }>(
      'SELECT * FROM imports WHERE id = $1',
      [importId],
    );
    const row = rows[0];
    if (!row) throw new ImportNotFoundError(importId);
    const progress = await this.progress(importId, row);
    const errors = await this.deps.pool.query<ImportRowError>(
      'SELECT row_no AS row, field, message FROM import_errors WHERE import_id = $1 ORDER BY row_no, field LIMIT $2',
      [importId, MAX_REPORTED_ERRORS],
    );
    return {
      id: row.id,
      status: row.status,
      sequence: row.sequence,
      workflowId: importWorkflowId(row.id),
      rows: progress.rows,
      created: progress.created,
      updated: progress.updated,
      refused: progress.refused,
      createdAt: row.created_at.toISOString(),
      finishedAt: row.finished_at?.toISOString() ?? null,
      errors: errors.rows,
    };
  }

  /**
   * Handles up to `pageSize` staged rows not yet done, in row order: inserts the new leads in one
   * statement that also records which rows created them (a page repeated after a crash creates
   * and counts no lead twice), starts the new leads' workflows (bounded concurrency; a running one
   * is left alone), updates the profiles of leads that existed, then marks the rows done and drops
   * their profile copy. The last page marks the import completed. Answers the progress.
   */
  async processPage(importId: string, options: { pageSize: number; concurrency: number; onProgress?: (done: number) => void; ahead?: ImportAhead }): Promise<ImportProgress> {
    const { rows: imports } = await this.deps.pool.query<{ sequence: string; rows: number; refused: number }>('SELECT sequence, rows, refused FROM imports WHERE id = $1', [importId]);
    const header = imports[0];
    if (!header) throw new ImportNotFoundError(importId);
    const { rows } = await this.deps.pool.query<{ row_no: number; lead_id: string; lead: LeadProfile; outcome: 'created' | 'updated' | null }>(
      'SELECT row_no, lead_id, lead, outcome FROM import_rows WHERE import_id = $1 AND NOT done ORDER BY row_no LIMIT $2',
      [importId, options.pageSize],
    );
    if (rows.length) {
      const fresh = rows.filter((r) => r.outcome === null);
      if (fresh.length) {
        await inTransaction(this.deps.pool, async (db) => {
          const inserted = await LeadService.insertLeads(db, fresh.map((r) => ({ ...r.lead, sequence: header.sequence })));
          await db.query(
            `UPDATE import_rows SET outcome = CASE WHEN lead_id = ANY($3::text[]) THEN 'created' ELSE 'updated' END
              WHERE import_id = $1 AND row_no = ANY($2::int[])`,
            [importId, fresh.map((r) => r.row_no), [...inserted]],
          );
          for (const r of fresh) r.outcome = inserted.has(r.lead_id) ? 'created' : 'updated';
        });
      }
      const created = rows.filter((r) => r.outcome === 'created');
      let handled = 0;
      const progressed = () => options.onProgress?.(++handled);
      // Started a chunk at a time, each once the workers have caught up with the import: a lead
      // that signs up meanwhile waits behind at most `ahead.max` imported leads, not the file.
      const chunk = options.ahead ? Math.max(1, Math.floor(options.ahead.max / 2)) : created.length;
      const since = rows[0]!.row_no - options.pageSize;
      for (let i = 0; i < created.length; i += chunk) {
        const ids = created.slice(i, i + chunk).map((r) => r.lead_id);
        if (options.ahead) await this.waitForWorkers(importId, since, ids.length, options.ahead);
        await this.leads.ensureWorkflows(ids, { concurrency: options.concurrency, onStarted: progressed });
      }
      // Leads that existed: the row is a profile patch, as PATCH /v1/leads/{id} applies it (a
      // repeated patch changes nothing and tells no one). Empty cells were dropped: they keep the value.
      await inLanes(
        rows.filter((r) => r.outcome === 'updated'),
        options.concurrency,
        async (r) => {
          const { id: _id, ...patch } = r.lead;
          try {
            await this.leads.changeProfile(r.lead_id, patch);
          } catch (error) {
            // An erased lead's id (a tombstone): its profile is not brought back by a re-import.
            if (!(error instanceof DomainError && error.code === ErrorCodes.leadNotFound)) throw error;
          }
          progressed();
        },
      );
      await this.deps.pool.query('UPDATE import_rows SET done = true, lead = NULL WHERE import_id = $1 AND row_no = ANY($2::int[])', [importId, rows.map((r) => r.row_no)]);
    }
    const progress = await this.progress(importId, header);
    if (progress.remaining === 0) {
      await this.deps.pool.query(`UPDATE imports SET status = 'completed', finished_at = coalesce(finished_at, now()) WHERE id = $1`, [importId]);
    }
    return progress;
  }

  /**
   * Imported leads of this page and the one before whose workflow was started but has not run
   * its first task yet (the read model still at revision 0): the import's lead over the workers.
   */
  async unprocessed(importId: string, sinceRow: number): Promise<number> {
    const { rows } = await this.deps.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM import_rows r JOIN leads l ON l.id = r.lead_id
        WHERE r.import_id = $1 AND r.row_no >= $2 AND r.outcome = 'created'
          AND l.workflow_started_at IS NOT NULL AND l.revision = 0 AND l.erased_at IS NULL`,
      [importId, sinceRow],
    );
    return rows[0]!.n;
  }

  /** Waits until `next` more leads keep the import within `ahead.max` of the workers, at most `ahead.waitMs`. */
  private async waitForWorkers(importId: string, sinceRow: number, next: number, ahead: ImportAhead): Promise<void> {
    const deadline = Date.now() + ahead.waitMs;
    for (;;) {
      const waiting = await this.unprocessed(importId, sinceRow);
      // A chunk always goes once nothing waits, and after the deadline (a lead that never runs holds nothing up for long).
      if (waiting === 0 || waiting + next <= ahead.max || Date.now() >= deadline) return;
      ahead.onWait?.(waiting);
      await ahead.sleep(ahead.pollMs ?? 1000);
    }
  }

  private async progress(importId: string, header: { rows: number; refused: number }): Promise<ImportProgress> {
    const { rows } = await this.deps.pool.query<{ created: number; updated: number; remaining: number }>(
      `SELECT count(*) FILTER (WHERE outcome = 'created' AND done)::int AS created,
              count(*) FILTER (WHERE outcome = 'updated' AND done)::int AS updated,
              count(*) FILTER (WHERE NOT done)::int AS remaining
         FROM import_rows WHERE import_id = $1`,
      [importId],
    );
    const counts = rows[0]!;
    return { rows: header.rows, created: counts.created, updated: counts.updated, refused: header.refused, remaining: counts.remaining };
  }
}
