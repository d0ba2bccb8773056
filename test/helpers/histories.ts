import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';

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
