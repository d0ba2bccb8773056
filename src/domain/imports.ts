/** Where a CSV import stands; the page activity answers it from Postgres after each page. */
export interface ImportProgress {
  rows: number;
  created: number;
  updated: number;
  refused: number;
  /** Accepted rows not yet done (lead created or updated, its workflow started). */
  remaining: number;
}

/** The import's progress as one line: the Temporal UI shows it as the import workflow's current details. */
export const importDetails = (p: ImportProgress): string =>
  `${p.created + p.updated} of ${p.rows - p.refused} accepted rows done (${p.created} created, ${p.updated} updated), ${p.refused} refused, ${p.remaining} to go`;

/** Row errors an import's status answer carries, by row (a file of 100,000 bad rows would answer megabytes); `refused` counts them all. */
export const MAX_REPORTED_ERRORS = 1000;

/** One workflow per import, ever: `import-<importId>`. */
export const importWorkflowId = (importId: string): string => `import-${importId}`;
