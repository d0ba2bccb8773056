import type { SequenceDefinition } from './model.js';
import type { EmailTemplate } from './templates.js';

/**
 * What one file of src/sequences/library/ exports: the sequence as its default export, and
 * any templates only it uses as `templates`.
 */
export interface SequenceModule {
  default: SequenceDefinition;
  templates?: EmailTemplate[];
}

/** Types a sequence definition in its file; the catalog validates it with zod when it loads. */
export function defineSequence(sequence: SequenceDefinition): SequenceDefinition {
  return sequence;
}
