import { describe, expect, it } from 'vitest';
import { parseArgs, summary } from '../../src/tools/import-cli.js';

describe('npm run import', () => {
  it('reads the file, the sequence, the API and the key from flags, then the environment, then the development defaults', () => {
    expect(parseArgs(['leads.csv'], {})).toEqual({ file: 'leads.csv', api: 'http://127.0.0.1:3000', key: 'dev-marketing', intervalSeconds: 1, help: false });
    expect(parseArgs(['leads.csv', '--sequence', 'webinar-invite'], { LEADFLOW_API_URL: 'https://leads.example.com', LEADFLOW_API_KEY: 'k-env' })).toMatchObject({
      sequence: 'webinar-invite',
      api: 'https://leads.example.com',
      key: 'k-env',
    });
    expect(parseArgs(['--api', 'http://x:1', '--key', 'k-flag', 'a.csv'], { LEADFLOW_API_KEY: 'k-env' })).toMatchObject({ api: 'http://x:1', key: 'k-flag', file: 'a.csv' });
  });

  it('says what is wrong with the command line', () => {
    expect(() => parseArgs(['a.csv', 'b.csv'], {})).toThrow('one file at a time (got a.csv and b.csv)');
    expect(() => parseArgs(['a.csv', '--sequence'], {})).toThrow('--sequence needs a value');
    expect(() => parseArgs(['a.csv', '--interval', '0'], {})).toThrow('--interval takes a number of seconds above 0');
    expect(() => parseArgs(['--dry-run'], {})).toThrow('unknown option --dry-run (see --help)');
  });

  it('prints the summary and a table of refused rows, pointing at the API for the rest', () => {
    const errors = Array.from({ length: 60 }, (_, i) => ({ row: i + 2, field: 'email', message: 'Invalid email address' }));
    const text = summary({ id: 'imp-1', status: 'completed', workflowId: 'import-imp-1', rows: 100, created: 30, updated: 10, refused: 60, errors });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Import imp-1 completed: 100 rows, 30 created, 10 updated, 60 refused (workflow import-imp-1)');
    expect(lines).toContain('  2       email           Invalid email address');
    expect(lines.filter((l) => l.includes('Invalid email address'))).toHaveLength(50);
    expect(lines.at(-1)).toBe('  ... and more: GET /v1/imports/imp-1 lists the first 1000');
    expect(summary({ id: 'imp-2', status: 'completed', workflowId: 'import-imp-2', rows: 1, created: 1, updated: 0, refused: 0, errors: [] })).not.toContain('Refused');
  });
});
