/** How the command-line tools call the HTTP API: one sentence the user can act on for every failure. */

/** A failure the user can act on: the tools print it as one sentence and exit 1. */
export class ApiFailed extends Error {}

export interface ApiTarget {
  /** The API's base URL. */
  api: string;
  key: string;
  /** Which key the call needs, for the sentence of a 401 or 403 ("an ingest or marketing key"). */
  keyHint: string;
}

export type ApiAnswer = { status: number; body: { error?: string; message?: string } & Record<string, unknown> };

/** Calls `path` (relative to the API's base URL) with the key; a network error, a refused key or any 4xx/5xx becomes an ApiFailed. */
export async function apiRequest(target: ApiTarget, path: string, init: RequestInit = {}): Promise<ApiAnswer> {
  let response: Response;
  try {
    response = await fetch(new URL(path, target.api.replace(/\/*$/, '/')), { ...init, headers: { authorization: `Bearer ${target.key}`, ...init.headers } });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiFailed(`cannot reach the API at ${target.api} (${cause?.code ?? cause?.message ?? (error as Error).message}); is it running? Set --api or LEADFLOW_API_URL`);
  }
  const text = await response.text();
  let body: ApiAnswer['body'];
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text.slice(0, 200) };
  }
  if (response.status === 401 || response.status === 403) {
    throw new ApiFailed(`the API refused the key (${response.status} ${body.error ?? ''}): ${body.message ?? ''}; pass ${target.keyHint} with --key or LEADFLOW_API_KEY`);
  }
  if (response.status >= 400) {
    const details = Array.isArray(body.details) ? `\n${(body.details as Array<{ path: string; message: string }>).map((d) => `  ${d.path}: ${d.message}`).join('\n')}` : '';
    throw new ApiFailed(`the API answered ${response.status} ${body.error ?? ''}: ${body.message ?? text.slice(0, 200)}${details}`);
  }
  return { status: response.status, body };
}
