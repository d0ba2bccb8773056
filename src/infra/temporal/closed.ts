import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';

/** Is this the failure a closed lead's workflow gives (completed: no run to signal or update)? */
export const isClosedWorkflow = (error: unknown): boolean =>
  error instanceof WorkflowNotFoundError ||
  error instanceof WorkflowExecutionAlreadyStartedError ||
  /already completed|workflow execution already finished/i.test(String((error as Error)?.message));
