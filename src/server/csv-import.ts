import { parse } from 'csv-parse';
import type { z } from 'zod';
import { CreateLeadBody } from './schemas.js';

/**
 * CSV files of leads (POST /v1/imports): the header row names the columns, `id` and `email` are
 * required, the profile fields are known by name (any case), every other column goes into the
 * lead's `attributes`. Each row is validated with the same schema as `POST /v1/leads`.
 */

/** Columns that map onto the lead's own fields; the others become attributes. */
export const KNOWN_COLUMNS = ['id', 'email', 'firstName', 'lastName', 'company', 'timezone'] as const;
type KnownColumn = (typeof KNOWN_COLUMNS)[number];
const REQUIRED_COLUMNS: KnownColumn[] = ['id', 'email'];

/** Longest record the parser holds in memory: far above any lead's row, and an unclosed quote fails fast instead of swallowing the file. */
const MAX_RECORD_BYTES = 64 * 1024;

/** A lead as a row describes it (the sequence comes with the import, not the row). */
export type ImportedLead = Omit<z.output<typeof CreateLeadBody>, 'sequence'>;

/** Why a row was refused: `row` numbers records as a spreadsheet does (the header is row 1), `field` is the column. */
export interface RowError {
  row: number;
  field: string;
  message: string;
}

export type ParsedRow = { row: number; lead: ImportedLead } | { row: number; errors: RowError[] };

/** The file as a whole cannot be read (no header, a required column missing, broken quoting): nothing is imported. */
export class CsvFileError extends Error {
  constructor(
    message: string,
    readonly details: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'CsvFileError';
  }
}

export interface CsvHeader {
  /** Column names as the file spells them. */
  names: string[];
  /** Per column: the lead field it fills, or null for an attribute. */
  fields: Array<KnownColumn | null>;
}

const knownByLowerCase = new Map(KNOWN_COLUMNS.map((name) => [name.toLowerCase(), name]));

/** Reads the header row: known columns in any case, no blank or repeated names, `id` and `email` present. */
export function readHeader(cells: string[]): CsvHeader {
  const names = cells.map((cell) => cell.trim());
  const problems: Array<{ path: string; message: string }> = [];
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (!name) problems.push({ path: `header.${index + 1}`, message: `column ${index + 1} has no name` });
    else if (seen.has(name.toLowerCase())) problems.push({ path: `header.${name}`, message: `column "${name}" appears twice` });
    seen.add(name.toLowerCase());
  });
  const fields = names.map((name) => knownByLowerCase.get(name.toLowerCase()) ?? null);
  for (const required of REQUIRED_COLUMNS) {
    if (!fields.includes(required)) problems.push({ path: `header.${required}`, message: `the header row needs a column "${required}"` });
  }
  if (problems.length) throw new CsvFileError(`the header row is not usable: ${problems.map((p) => p.message).join('; ')}`, problems);
  return { names, fields };
}

/** One data row → the lead it describes, or the reasons it is refused (each naming its column). */
export function readRow(header: CsvHeader, cells: string[], row: number): ParsedRow {
  if (cells.length !== header.names.length) {
    return { row, errors: [{ row, field: 'row', message: `has ${cells.length} fields, the header has ${header.names.length}` }] };
  }
  const candidate: Record<string, unknown> = {};
  const attributes: Record<string, string> = {};
  const errors: RowError[] = [];
  cells.forEach((raw, index) => {
    const value = raw.trim();
    const name = header.names[index]!;
    // Postgres keeps no NUL in text or jsonb.
    if (value.includes('\u0000')) errors.push({ row, field: name, message: 'contains a NUL character' });
    else if (value === '') return; // an empty cell sets nothing
    const field = header.fields[index];
    if (field) candidate[field] = value;
    else attributes[name] = value;
  });
  if (errors.length) return { row, errors };
  if (Object.keys(attributes).length) candidate.attributes = attributes;
  const parsed = CreateLeadBody.omit({ sequence: true }).safeParse(candidate);
  if (parsed.success) return { row, lead: parsed.data };
  const columnOf = (field: string): string => header.names[header.fields.indexOf(field as KnownColumn)] ?? field;
  return {
    row,
    errors: parsed.error.issues.map((issue) => {
      const [first, second] = issue.path.map(String);
      const field = first === 'attributes' && second ? second : columnOf(first ?? 'row');
      return { row, field, message: issue.message };
    }),
  };
}

/**
 * Streams a CSV file into rows, each a lead or its errors, without holding the file in memory.
 * Handles a UTF-8 BOM, quoted fields (commas, quotes and line breaks inside), blank lines (skipped,
 * still counted as rows). A lead id repeated in the file: the first row counts, a later one is
 * refused naming the first (docs/decisions.md). Throws CsvFileError when the file itself is broken.
 */
export async function* parseLeadsCsv(input: AsyncIterable<Buffer | string>): AsyncGenerator<ParsedRow> {
  const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_RECORD_BYTES });
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        // The reader stopped (a refused file): stop reading the upload too.
        if (parser.destroyed) break;
        if (!parser.write(chunk) && !parser.destroyed) await new Promise((resolve) => (parser.once('drain', resolve), parser.once('close', resolve)));
      }
      if (!parser.destroyed) parser.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  let header: CsvHeader | undefined;
  let row = 0;
  const firstRowOf = new Map<string, number>();
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      row += 1;
      if (cells.length === 1 && cells[0]!.trim() === '') continue;
      if (!header) {
        header = readHeader(cells);
        continue;
      }
      const parsed = readRow(header, cells, row);
      if ('lead' in parsed) {
        const first = firstRowOf.get(parsed.lead.id);
        if (first !== undefined) {
          yield { row, errors: [{ row, field: header.names[header.fields.indexOf('id')]!, message: `lead id "${parsed.lead.id}" already appears in row ${first}; only the first row counts` }] };
          continue;
        }
        firstRowOf.set(parsed.lead.id, row);
      }
      yield parsed;
    }
  } catch (error) {
    if (error instanceof CsvFileError) throw error;
    const message = (error as Error).message;
    if ((error as { code?: string }).code?.startsWith('CSV_')) throw new CsvFileError(`the file is not valid CSV: ${message}`, [{ path: 'body', message }]);
    throw error;
  } finally {
    if (!parser.readableEnded) parser.destroy();
    await feeding;
  }
  if (!header) throw new CsvFileError('the file is empty: it needs a header row (id,email,...) and at least one row', [{ path: 'body', message: 'no header row' }]);
}
