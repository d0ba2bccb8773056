import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CsvFileError, parseLeadsCsv, readHeader, readRow, type ParsedRow } from '../../src/server/csv-import.js';

const parseAll = async (text: string | Buffer, chunkSize = 7): Promise<ParsedRow[]> => {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  // Small chunks: a quoted field, a BOM or a multi-byte character split across chunks still parses.
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
  const rows: ParsedRow[] = [];
  for await (const row of parseLeadsCsv(Readable.from(chunks))) rows.push(row);
  return rows;
};

describe('CSV import parsing', () => {
  it('reads quoted fields with commas, quotes and line breaks, a BOM, and extra columns as attributes', async () => {
    const csv =
      '\uFEFFid,Email,firstName,company,industry,Plan\r\n' +
      'a-1,Ada@Example.com,"Ada","Lovelace, Byron & Co","fin""tech",pro\r\n' +
      'a-2,bob@example.com,Bob,,"two\nlines",\r\n';
    const rows = await parseAll(csv);
    expect(rows).toEqual([
      { row: 2, lead: { id: 'a-1', email: 'Ada@Example.com', firstName: 'Ada', company: 'Lovelace, Byron & Co', attributes: { industry: 'fin"tech', Plan: 'pro' } } },
      // An empty cell sets nothing; the quoted line break does not start a new row.
      { row: 3, lead: { id: 'a-2', email: 'bob@example.com', firstName: 'Bob', attributes: { industry: 'two\nlines' } } },
    ]);
  });

  it('refuses a quoted line break where the schema wants one line, naming the column', async () => {
    const rows = await parseAll('id,email,firstName\nx-1,x@example.com,"Ann\nMarie"\n');
    expect(rows).toEqual([{ row: 2, errors: [{ row: 2, field: 'firstName', message: expect.stringMatching(/one line/) }] }]);
  });

  it('refuses bad emails, bad ids, unknown time zones and ragged rows, and keeps the good rows', async () => {
    const rows = await parseAll(
      ['id,email,timezone', 'ok-1,ok@example.com,Europe/Paris', 'bad-1,not-an-email,', 'bad id!,x@example.com,', 'bad-2,y@example.com,Mars/Olympus', 'bad-3,z@example.com,UTC,extra', 'ok-2,ok2@example.com,'].join('\n'),
    );
    expect(rows.filter((r) => 'lead' in r).map((r) => r.row)).toEqual([2, 7]);
    const errors = rows.flatMap((r) => ('errors' in r ? r.errors : []));
    expect(errors.map(({ row, field }) => ({ row, field }))).toEqual([
      { row: 3, field: 'email' },
      { row: 4, field: 'id' },
      { row: 5, field: 'timezone' },
      { row: 6, field: 'row' },
    ]);
    expect(errors[3]!.message).toBe('has 4 fields, the header has 3');
  });

  it('counts the first row of a repeated lead id and refuses the later ones, naming the first', async () => {
    const rows = await parseAll('id,email,firstName\nd-1,first@example.com,First\nd-2,other@example.com,\nd-1,second@example.com,Second\n');
    expect(rows[0]).toEqual({ row: 2, lead: { id: 'd-1', email: 'first@example.com', firstName: 'First' } });
    expect(rows[2]).toEqual({ row: 4, errors: [{ row: 4, field: 'id', message: 'lead id "d-1" already appears in row 2; only the first row counts' }] });
  });

  it('skips blank lines but keeps counting rows as a spreadsheet does', async () => {
    const rows = await parseAll('id,email\n\nb-1,b@example.com\n\n\nb-2,b2@example.com');
    expect(rows.map((r) => r.row)).toEqual([3, 6]);
  });

  it('refuses NUL in a cell, naming its column', () => {
    const header = readHeader(['id', 'email', 'note']);
    expect(readRow(header, ['n-1', 'n@example.com', 'a\u0000b'], 2)).toEqual({ row: 2, errors: [{ row: 2, field: 'note', message: 'contains a NUL character' }] });
  });

  it('refuses a file without id or email, with blank or repeated column names, or with broken quoting', async () => {
    await expect(parseAll('email,name\nx@example.com,X\n')).rejects.toThrow(/needs a column "id"/);
    await expect(parseAll('id,email,Email\n')).rejects.toThrow(/"Email" appears twice/);
    await expect(parseAll('id,email,\n')).rejects.toThrow(/column 3 has no name/);
    await expect(parseAll('id,email\nq-1,"q@example.com\n')).rejects.toBeInstanceOf(CsvFileError);
    await expect(parseAll('')).rejects.toThrow(/the file is empty/);
  });
});
