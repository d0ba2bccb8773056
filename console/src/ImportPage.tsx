import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, type ImportStatus, type Session } from './api.ts';
import { navigate } from './route.ts';
import { LoadProblem, TemporalLink, type HeadingRef } from './shared.tsx';
import type { Signed } from './signed.ts';

/** Who may import (POST /v1/imports): ingest, marketing and admin keys. */
export const canImport = (session: Session): boolean => session.roles.some((r) => r === 'ingest' || r === 'marketing' || r === 'admin');

/** How often a running import's progress is asked for. */
const POLL_MS = 1000;

/**
 * CSV import: choose a file and a sequence, upload, then follow the job (a progress bar over the
 * accepted rows) and read the refused rows by row and column. `#/imports/<id>` follows one import.
 */
export function ImportPage({ signed, heading, id }: { signed: Signed; heading: HeadingRef; id: string | undefined }) {
  const [file, setFile] = useState<File>();
  const [sequence, setSequence] = useState('');
  const [uploading, setUploading] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [status, setStatus] = useState<ImportStatus>();

  // Follow the import in the URL until it completes.
  useEffect(() => {
    setStatus(undefined);
    if (!id) return;
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () =>
      signed.api.importStatus(id).then(
        (s) => {
          if (!current) return;
          setStatus(s);
          setProblem(undefined);
          if (s.status !== 'completed') timer = setTimeout(poll, POLL_MS);
        },
        (error: Error) => {
          if (!current) return;
          setProblem(error.message);
          if (!(error instanceof ApiError && error.status === 404)) timer = setTimeout(poll, POLL_MS * 3);
        },
      );
    void poll();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [signed.api, id]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setUploading(true);
    setProblem(undefined);
    try {
      const accepted = await signed.api.importCsv(file, sequence || undefined);
      navigate({ page: 'imports', id: accepted.id });
    } catch (error) {
      const details = error instanceof ApiError && Array.isArray(error.details) ? ` (${(error.details as Array<{ message: string }>).map((d) => d.message).join('; ')})` : '';
      setProblem(`The file was not imported: ${(error as Error).message}${details}`);
    } finally {
      setUploading(false);
    }
  };

  const accepted = status ? status.rows - status.refused : 0;
  const done = status ? status.created + status.updated : 0;
  return (
    <section aria-labelledby="import-title">
      <div className="page-head">
        <h1 id="import-title" ref={heading} tabIndex={-1}>
          Import leads
        </h1>
      </div>
      <p className="muted">
        A CSV file with a header row: <code>id</code> and <code>email</code> are required; <code>firstName</code>, <code>lastName</code>, <code>company</code> and{' '}
        <code>timezone</code> are known; other columns become attributes. Leads that exist get their profile updated. Up to 50 MiB.
      </p>
      <form className="filters" onSubmit={submit} aria-label="Upload a CSV file">
        <div>
          <label htmlFor="import-file">CSV file</label>
          <input id="import-file" type="file" accept=".csv,text/csv" required onChange={(e) => setFile(e.target.files?.[0])} />
        </div>
        <div>
          <label htmlFor="import-sequence">Sequence for new leads</label>
          <select id="import-sequence" value={sequence} onChange={(e) => setSequence(e.target.value)}>
            <option value="">default (onboarding)</option>
            {signed.session.sequences.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="primary" disabled={!file || uploading}>
          {uploading ? 'Uploading…' : 'Import'}
        </button>
      </form>
      <LoadProblem error={problem} />
      {status && (
        <div className="card" aria-labelledby="import-progress-title">
          <h2 id="import-progress-title">
            Import {status.id} · {status.status === 'completed' ? 'completed' : 'running'}
          </h2>
          <progress className="import-progress" max={Math.max(accepted, 1)} value={accepted ? done : 1} aria-labelledby="import-progress-title" aria-describedby="import-counts" />
          <p id="import-counts" role="status" aria-live="polite">
            {done} of {accepted} accepted rows done: {status.created} created, {status.updated} updated; {status.refused} of {status.rows} rows refused.
          </p>
          <p>
            New leads enter <strong>{status.sequence}</strong>. <TemporalLink session={signed.session} workflowId={status.workflowId} label="Import job in Temporal UI" />
          </p>
          {status.errors.length > 0 && (
            <table className="import-errors">
              <caption>Refused rows{status.errors.length < status.refused ? ` (the first ${status.errors.length} of ${status.refused})` : ''}</caption>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Column</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {status.errors.map((e, i) => (
                  <tr key={`${e.row}-${e.field}-${i}`}>
                    <td>{e.row}</td>
                    <td>{e.field}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
