import { Connection } from '@temporalio/client';
// The SDK's own switch for a connection with the TestService (time skipping). Not in the
// package index; @temporalio/worker imports it from this same path.
import { InternalConnectionOptionsSymbol, type InternalConnectionOptions } from '@temporalio/client/lib/connection.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { freePort, isPortOpen } from '../net.js';
import { describeMissingBinary, resolveTestServer, TemporalBinaryNotFoundError, toEphemeralExecutable } from './binaries.js';
import { spawnServerProcess, type ServerProcess } from './dev-server.js';
import { ensureLeadSearchAttributes } from './search-attributes.js';

const START_TIMEOUT_MS = 30_000;

/**
 * A time-skipping environment on a test server we spawned ourselves.
 *
 * Why not `TestWorkflowEnvironment.createTimeSkipping({ server: { executable } })`: the SDK gives
 * the server about 5 s to listen. The native-image server needs well under a second, but the
 * Java one from the Maven fallback needs 1-2 s idle and failed that window every time with four
 * starting at once on two busy cores. `createFromExistingServer` would wait as long as we like
 * but turns time skipping off. So: spawn the binary on a free port, wait for it, then attach
 * through the environment's protected constructor with `supportsTimeSkipping` on and a
 * connection that carries the TestService, exactly what `createTimeSkipping` builds. Teardown
 * closes the connections and stops the process.
 */
class SpawnedTimeSkippingEnvironment extends TestWorkflowEnvironment {
  constructor(
    connection: Connection,
    nativeConnection: NativeConnection,
    address: string,
    private readonly serverProcess: ServerProcess,
  ) {
    const options: TestWorkflowEnvironment['options'] = { server: { type: 'existing' }, client: {}, plugins: [] };
    super(Runtime.instance(), options, true, 'existing', connection, nativeConnection, undefined, address);
  }

  override async teardown(): Promise<void> {
    try {
      await super.teardown();
    } finally {
      await this.serverProcess.stop();
    }
  }
}

async function spawnTestServer(file: string): Promise<{ address: string; server: ServerProcess }> {
  // The port is free when we ask; another process may take it before the server binds, so a
  // server that exits at once gets another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = spawnServerProcess(file, [String(port)]);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const exit = server.exit();
      if (exit) {
        if (attempt < 3) break;
        throw new Error(`The Temporal test server (${file}) exited (${exit.signal ?? `code ${exit.code}`}) on start-up. Its last output:\n${server.outputTail() || '(none)'}`);
      }
      if (await isPortOpen(port)) return { address: `127.0.0.1:${port}`, server };
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`The Temporal test server (${file}) did not listen on port ${port} within ${START_TIMEOUT_MS / 1000} s. Its last output:\n${server.outputTail() || '(none)'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * A time-skipping test environment on the project's own test server (see binaries.ts), with the
 * lead search attributes registered in namespace `default`: the test server knows no custom
 * search attributes by default, and a workflow upserting an unknown one fails its task
 * ("BadSearchAttributes: search attribute LeadStage is not defined"). One server per call;
 * `teardown()` stops it.
 */
export async function createTimeSkippingTestEnv(): Promise<TestWorkflowEnvironment> {
  const resolved = await resolveTestServer();

  let env: TestWorkflowEnvironment;
  if (resolved.path) {
    const { address, server } = await spawnTestServer(resolved.path);
    try {
      const connection = await Connection.connect({ address, [InternalConnectionOptionsSymbol]: { supportsTestService: true } } as InternalConnectionOptions);
      const nativeConnection = await NativeConnection.connect({ address });
      env = new SpawnedTimeSkippingEnvironment(connection, nativeConnection, address, server);
    } catch (error) {
      await server.stop();
      throw error;
    }
  } else {
    try {
      env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: toEphemeralExecutable(resolved) } });
    } catch (error) {
      throw new TemporalBinaryNotFoundError(`${describeMissingBinary('test-server', resolved.tried)}\nThe SDK's download failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  try {
    await ensureLeadSearchAttributes(env.connection, env.namespace ?? 'default');
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}
