import { describe, expect, it } from 'vitest';
import { parseArgs, shiftOf, summary } from '../../src/tools/simulate-cli.js';

describe('npm run simulate', () => {
  it('turns the flags into the program change, the scope, the API and the key', () => {
    expect(parseArgs(['--threshold', '40', '--points', 'product.compared=25'], {})).toEqual({
      program: { threshold: 40, scoring: { 'product.compared': 25 } },
      json: false,
      api: 'http://127.0.0.1:3000',
      key: 'dev-marketing',
      help: false,
    });
    expect(parseArgs(['--points', 'product.compared=25,pricing.viewed=5', '--points', 'docs-pricing=-3', '--min-grade', 'b', '--since', '2026-11-01', '--leads', 'ada,ben'], { LEADFLOW_API_URL: 'https://leads.example.com', LEADFLOW_API_KEY: 'k' })).toMatchObject({
      program: { scoring: { 'product.compared': 25, 'pricing.viewed': 5, 'docs-pricing': -3 }, minGrade: 'B' },
      since: '2026-11-01T00:00:00.000Z',
      leads: ['ada', 'ben'],
      api: 'https://leads.example.com',
      key: 'k',
    });
    expect(parseArgs(['--since', '2026-11-01T10:00:00+01:00', '--fit', 'fit.json', '--json'], {})).toMatchObject({ since: '2026-11-01T09:00:00.000Z', fitFile: 'fit.json', json: true });
  });

  it('says how much earlier or later a lead escalates', () => {
    expect(shiftOf('2026-11-03T10:00:00.000Z', '2026-11-03T09:59:59.650Z')).toBe('-350 ms');
    expect(shiftOf('2026-11-03T10:00:00.000Z', '2026-11-03T10:00:12.340Z')).toBe('+12.3 s');
    expect(shiftOf('2026-11-03T10:00:00.000Z', '2026-11-03T10:40:00.000Z')).toBe('+40 min');
    expect(shiftOf('2026-11-03T10:00:00.000Z', '2026-11-03T04:30:00.000Z')).toBe('-5.5 h');
    expect(shiftOf('2026-11-03T10:00:00.000Z', '2026-11-06T13:00:00.000Z')).toBe('+3 d 3 h');
    expect(shiftOf(null, '2026-11-03T10:00:00.000Z')).toBe('');
  });

  it('says what is wrong with the command line', () => {
    expect(() => parseArgs(['--threshold', 'forty'], {})).toThrow('--threshold takes a whole number (got "forty")');
    expect(() => parseArgs(['--points', 'product.compared'], {})).toThrow('--points takes name=points, e.g. product.compared=25 (got "product.compared")');
    expect(() => parseArgs(['--points', 'product.compared=2.5'], {})).toThrow('--points product.compared takes a whole number (got "2.5")');
    expect(() => parseArgs(['--min-grade', 'E'], {})).toThrow('--min-grade takes A, B, C or D (got "E")');
    expect(() => parseArgs(['--since', 'yesterday'], {})).toThrow('--since takes a date such as 2026-11-01 or an ISO-8601 instant (got "yesterday")');
    expect(() => parseArgs(['--threshold'], {})).toThrow('--threshold needs a value');
    expect(() => parseArgs(['--dry-run'], {})).toThrow('unknown option --dry-run (see --help)');
    expect(() => parseArgs(['40'], {})).toThrow('unexpected argument "40" (options start with --; see --help)');
  });

  it('prints the answer in words with a table of the leads that change, and warns about leads it cannot vouch for', () => {
    const changed = Array.from({ length: 52 }, (_, i) => ({ leadId: `lead-${i}`, change: 'earlier', now: '2026-11-03T10:00:00.000Z', simulated: '2026-11-02T09:30:15.250Z' }));
    const text = summary(
      { program: { threshold: 40, scoring: { 'product.compared': 25 } } },
      { leads: 120, escalations: { now: 30, simulated: 36 }, leadsEscalated: { now: 25, simulated: 30 }, changed, newlyEscalated: 6, acceptedAmongNew: 3, rejectedAmongNew: 2, wonAmongNew: 1, unreproduced: [{ leadId: 'old-1', reason: 'escalated 1 time(s), the replay 0' }] },
    );
    const lines = text.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'What if threshold 40, product.compared = 25: 120 past leads replayed.',
      '  escalations (reviews):   30 now -> 36 simulated',
      '  leads escalated:         25 now -> 30 simulated',
      '  newly escalated leads:   6 (earlier than they did, or never did); of them sales actually accepted 3, rejected 2, won 1',
    ]);
    expect(lines).toContain('  lead-0                  earlier   2026-11-03 10:00:00   2026-11-02 09:30:15   -1 d');
    expect(lines.filter((l) => l.startsWith('  lead-'))).toHaveLength(50);
    expect(lines).toContain('  ... and 2 more (--json lists them all)');
    expect(lines.slice(-2)).toEqual(['Warning: 1 lead(s) do not replay into their real escalations under their own program (their results are not to be trusted):', '  old-1: escalated 1 time(s), the replay 0']);
    expect(summary({ program: {} }, { leads: 3, escalations: { now: 1, simulated: 1 }, leadsEscalated: { now: 1, simulated: 1 }, changed: [], newlyEscalated: 0, acceptedAmongNew: 0, rejectedAmongNew: 0, wonAmongNew: 0, unreproduced: [] })).toContain(
      'What if nothing changed (a check of the replay): 3 past leads replayed.',
    );
  });
});
