import { TestWorkflowEnvironment } from '@temporalio/testing';
import { leadSearchAttributes } from '../../../workflows/search-attributes.js';
import { describeMissingBinary, resolveTestServer, toEphemeralExecutable, TemporalBinaryNotFoundError } from './binaries.js';

/** IndexedValueType numbers of the Temporal API, by the SDK's search attribute type names. */
const INDEXED_VALUE_TYPE: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

/**
 * A time-skipping test environment on the project's own test-server binary, with the lead
 * search attributes registered (the test server knows none by default, and a workflow that
 * upserts an unknown one fails its task). The native-image server starts in about a second;
 * the SDK waits only a few seconds for it, so a start that loses that race on a busy machine
 * is retried.
 */
export async function createTimeSkippingTestEnv(attempts = 3): Promise<TestWorkflowEnvironment> {
  const resolved = await resolveTestServer();
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: toEphemeralExecutable(resolved) } });
      await env.connection.operatorService.addSearchAttributes({
        namespace: 'default',
        searchAttributes: Object.fromEntries(leadSearchAttributes.map((key) => [key.name, INDEXED_VALUE_TYPE[key.type]!])),
      });
      return env;
    } catch (error) {
      lastError = error;
      if (resolved.source === 'sdk-download') {
        throw new TemporalBinaryNotFoundError(`${describeMissingBinary('test-server', resolved.tried)}\n(the download failed: ${(error as Error).message})`);
      }
    }
  }
  throw lastError;
}
