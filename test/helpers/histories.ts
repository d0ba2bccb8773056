import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

const { History } = proto.temporal.api.history.v1;

export const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));

/** One recorded history file (written by `npm run histories:record`). */
export interface RecordedHistory {
  file: string;
  workflowId: string;
  description: string;
  /** Protobuf object form of the history (History.toObject with longs, enums and bytes as strings). */
  history: unknown;
}

/** Every recorded history under test/histories/, sorted by file name. */
export function loadRecordedHistories(): RecordedHistory[] {
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as Omit<RecordedHistory, 'file'>) }));
}

/** The History message a replay worker takes. */
export function toHistory(recorded: Pick<RecordedHistory, 'history'>): proto.temporal.api.history.v1.History {
  return History.fromObject(recorded.history as Record<string, unknown>);
}

/** The outcome of replaying one recorded history. */
export interface ReplayOutcome {
  file: string;
  workflowId: string;
  error?: unknown;
}

/**
 * Replays every given history against `workflowBundle`, one result per history in order: the
 * loop of the replay suite, shared by its negative control so both go the same way.
 */
export async function replayAll(workflowBundle: WorkflowBundleWithSourceMap, recorded: RecordedHistory[]): Promise<ReplayOutcome[]> {
  const histories = recorded.map((r) => ({ workflowId: `${r.workflowId} (${r.file})`, history: toHistory(r) }));
  const byId = new Map(recorded.map((r) => [`${r.workflowId} (${r.file})`, r]));
  const outcomes: ReplayOutcome[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    const r = byId.get(result.workflowId)!;
    outcomes.push({ file: r.file, workflowId: r.workflowId, ...(result.error ? { error: result.error } : {}) });
  }
  return outcomes;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A bundle of the workflow code with one `patched(<constant>)` guard replaced by `true`: the
 * mistake of shipping new behaviour without its patch. Built from a copy of workflows/ (under
 * test-artifacts/, ignored by git and lint) whose relative imports point back into the project.
 * Throws when the guard is not in the code, so the control cannot silently test nothing.
 */
export async function bundleWithoutPatchGuard(patchConstant: string): Promise<WorkflowBundleWithSourceMap> {
  const source = path.join(ROOT, 'workflows');
  fs.mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
  const copy = fs.mkdtempSync(path.join(ROOT, 'test-artifacts', 'unguarded-'));
  try {
    const guard = `patched(${patchConstant})`;
    let removed = 0;
    for (const file of fs.readdirSync(source).filter((f) => f.endsWith('.ts'))) {
      let text = fs.readFileSync(path.join(source, file), 'utf8').replaceAll(`from '../`, `from '${ROOT}`);
      // The guard lives in the engine that ships it: workflows/lead.ts or the first engine's workflows/lead-v1.ts.
      if (text.includes(guard)) {
        text = text.replaceAll(guard, 'true');
        removed += 1;
      }
      fs.writeFileSync(path.join(copy, file), text);
    }
    if (removed === 0) throw new Error(`workflows/ has no ${guard} to remove`);
    return await bundleWorkflowCode({ workflowsPath: path.join(copy, 'index.ts'), logger: quietLogger });
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
