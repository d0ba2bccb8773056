import { pipeline, Transform, type Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../config.js';
import { DomainError, ErrorCodes } from '../domain/errors.js';
import { hasOwnName } from '../domain/own-key.js';
import type { Pool } from '../infra/db.js';
import { ImportNotFoundError, ImportService } from '../leads/imports.js';
import { LeadService } from '../leads/service.js';
import { DEFAULT_SEQUENCE_ID, sequences } from '../sequences/catalog.js';
import { CsvFileError, KNOWN_COLUMNS, parseLeadsCsv } from './csv-import.js';
import { HttpError } from './errors.js';
import { ErrorResponses, ImportAccepted, ImportStatus } from './schemas.js';

/** A CSV file may be this large (DESIGN.md); the rest of the API keeps 64 KiB. */
export const IMPORT_BODY_LIMIT = 50 * 1024 * 1024;

const ImportQuery = z.object({
  sequence: z.string().max(100).meta({ enum: Object.keys(sequences) }).optional().describe(`the sequence new leads are enrolled in (default ${DEFAULT_SEQUENCE_ID}); leads that exist keep theirs`),
});
const ImportParams = z.object({ id: z.string().regex(/^[A-Za-z0-9-]+$/).max(100) });
/** Counts the upload's bytes and stops it at the limit with a 413 (a stream parser gets no Fastify body limit). */
const limitedTo = (limit: number): Transform => {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new HttpError(413, 'payload_too_large', `a CSV import may be ${limit / 1024 / 1024} MiB at most; split the file`));
      else done(null, chunk);
    },
  });
};

/** CSV import: `POST /v1/imports` stages a file and starts its job, `GET /v1/imports/{id}` follows it. */
export async function registerImportRoutes(
  root: FastifyInstance,
  deps: { client: Client; pool: Pool; leads: LeadService; pageSize?: number; roles: (allowed: readonly Role[]) => RouteShorthandOptions },
): Promise<void> {
  const imports = new ImportService({ client: deps.client, pool: deps.pool, leads: deps.leads, ...(deps.pageSize ? { pageSize: deps.pageSize } : {}) });
  // Its own scope: only these routes take text/csv, as a stream (the file is never held whole).
  await root.register(async (scope) => {
    scope.addContentTypeParser('text/csv', (_request, payload, done) => done(null, payload));
    const app = scope.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/v1/imports',
      {
        ...deps.roles(['ingest', 'marketing']),
        bodyLimit: IMPORT_BODY_LIMIT,
        schema: {
          summary: 'Import leads from a CSV file (up to 50 MiB) as a durable job: 202 at once, then follow GET /v1/imports/{id}',
          description: `Content-Type: text/csv. The header row names the columns: id and email are required, ${KNOWN_COLUMNS.slice(2).join(', ')} are known (any case), every other column goes into attributes (as text). Each row is validated like POST /v1/leads; bad rows are refused with the column named, the good ones are imported. New leads are created in the sequence given, existing ones get their profile updated. A lead id repeated in the file: the first row counts, later ones are refused. The rows are stored before the answer; the job (workflow import-<id>) survives restarts and creates no lead twice. 400 invalid_csv when the file itself is unusable (no header, id or email column missing, broken quoting): nothing is imported.`,
          tags: ['imports'],
          querystring: ImportQuery,
          response: { 202: ImportAccepted, ...ErrorResponses },
        },
      },
      async (request, reply) => {
        const sequence = request.query.sequence ?? DEFAULT_SEQUENCE_ID;
        if (!hasOwnName(sequences, sequence)) {
          throw new DomainError(ErrorCodes.unknownSequence, `sequence "${sequence}" does not exist`, [{ path: 'querystring.sequence', message: `one of ${LeadService.sequenceIds().join(', ')}` }]);
        }
        if (Number(request.headers['content-length'] ?? 0) > IMPORT_BODY_LIMIT) {
          // The body is never read: the connection closes after the answer instead of waiting for it.
          reply.header('connection', 'close');
          throw new HttpError(413, 'payload_too_large', `a CSV import may be ${IMPORT_BODY_LIMIT / 1024 / 1024} MiB at most; split the file`);
        }
        const body = request.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') throw new HttpError(400, 'invalid_csv', 'send the CSV file as the body, with Content-Type: text/csv');
        try {
          // pipeline: an upload cut off mid-way fails the import instead of leaving it waiting.
          const limited = limitedTo(IMPORT_BODY_LIMIT);
          pipeline(body, limited, () => undefined);
          const staged = await imports.stage(sequence, parseLeadsCsv(limited));
          return reply.status(202).send(staged);
        } catch (error) {
          // The rest of the upload is not read: hang up after the answer rather than wait for it.
          reply.header('connection', 'close');
          if (error instanceof CsvFileError) throw new HttpError(400, 'invalid_csv', error.message, error.details);
          throw error;
        }
      },
    );
  });

  root.withTypeProvider<ZodTypeProvider>().get(
    '/v1/imports/:id',
    {
      ...deps.roles(['ingest', 'marketing']),
      schema: { summary: "A CSV import's status, counts and row errors", tags: ['imports'], params: ImportParams, response: { 200: ImportStatus, ...ErrorResponses } },
    },
    async (request) => {
      try {
        return await imports.get(request.params.id);
      } catch (error) {
        if (error instanceof ImportNotFoundError) throw new HttpError(404, 'import_not_found', error.message);
        throw error;
      }
    },
  );
}
