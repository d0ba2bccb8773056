import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { freePort, isPortOpen } from '../../src/infra/net.js';
import { resolveTemporalCli } from '../../src/infra/temporal/binaries.js';
import { spawnServerProcess, startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { ensureLeadSearchAttributes } from '../../src/infra/temporal/search-attributes.js';
import { leadSearchAttributes, LeadStageKey } from '../../workflows/search-attributes.js';
import { LEAD_WORKFLOW_TYPE } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';

// IndexedValueType numbers as listSearchAttributes reports them.
const KEYWORD = 2;
const INT = 3;

let dir: string;
let cliPath: string;
const running: DevServer[] = [];

beforeAll(async () => {
  const cli = await resolveTemporalCli();
  if (!cli.path) throw new Error(`No Temporal CLI for the dev-server test; tried:\n${cli.tried.join('\n')}`);
  cliPath = cli.path;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-devserver-'));
});

afterAll(async () => {
  for (const server of running) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function start(options: { dbFile: string; ui?: boolean; namespace?: string; onLog?: (line: string) => void }): Promise<DevServer & { port: number }> {
  const [port, uiPort] = await Promise.all([freePort(), freePort()]);
  const server = await startDevServer({ port, uiPort, ...options, cliPath });
  running.push(server);
  return { ...server, port };
}

async function withClient<T>(server: DevServer, body: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: server.address });
  try {
    return await body(new Client({ connection, namespace: server.namespace }), connection);
  } finally {
    await connection.close();
  }
}

describe('Temporal dev server (temporal server start-dev)', () => {
  it('registers the lead search attributes, keeps its data in the db file, and starts again on it', async () => {
    const dbFile = path.join(dir, 'nested', 'folder', 'temporal.db');
    const lines: string[] = [];
    const first = await start({ dbFile, ui: true, onLog: (line) => lines.push(line) });

    expect(first.address).toBe(`127.0.0.1:${first.port}`);
    expect(fs.existsSync(dbFile)).toBe(true);
    // The CLI prints its banner around the time the front end answers, not strictly before.
    await eventually(() => expect(lines.join('\n')).toContain(`Temporal Persistence: ${dbFile}`));
    const ui = await fetch(first.uiUrl!);
    expect(ui.status).toBe(200);

    const workflowId = `lead-devserver-${Date.now()}`;
    await withClient(first, async (client, connection) => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(customAttributes).toMatchObject({ LeadStage: KEYWORD, LeadScore: INT, LeadSequence: KEYWORD });
      // No worker: the execution just waits, which is all we need to find it again after a restart.
      await client.workflow.start(LEAD_WORKFLOW_TYPE, {
        taskQueue: 'dev-server-test',
        workflowId,
        typedSearchAttributes: [{ key: LeadStageKey, value: 'nurturing' }],
      });
    });
    // Write-ahead log (DEV_SERVER_SQLITE_PRAGMAS): the file header's format versions say 2 (1 is a rollback journal).
    expect([...fs.readFileSync(dbFile).subarray(18, 20)]).toEqual([2, 2]);
    await first.stop();
    expect(await isPortOpen(first.port)).toBe(false);

    // Same file, same --search-attribute flags: the CLI registers them again, which must not fail.
    const second = await start({ dbFile, ui: false });
    expect(second.uiUrl).toBeUndefined();
    await withClient(second, async (client, connection) => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(customAttributes).toMatchObject({ LeadStage: KEYWORD, LeadScore: INT, LeadSequence: KEYWORD });

      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('RUNNING');
      expect(description.typedSearchAttributes.get(LeadStageKey)).toBe('nurturing');
      const found = await eventually(async () => {
        const ids: string[] = [];
        for await (const execution of client.workflow.list({ query: `LeadStage = "nurturing" AND WorkflowId = "${workflowId}"` })) ids.push(execution.workflowId);
        expect(ids).toEqual([workflowId]);
        return ids;
      });
      expect(found).toHaveLength(1);
    });
    await second.stop();
    expect(await isPortOpen(second.port)).toBe(false);
  });

  it('creates the requested namespace with the search attributes in it', async () => {
    const leads = await start({ dbFile: path.join(dir, 'namespaced.db'), ui: false, namespace: 'leads' });
    expect(leads.namespace).toBe('leads');
    await withClient(leads, async (_client, connection) => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'leads' });
      expect(customAttributes).toMatchObject({ LeadStage: KEYWORD, LeadScore: INT, LeadSequence: KEYWORD });
    });
    await leads.stop();
  });

  it('adds the lead search attributes to a db file made without them (an upgrade)', async () => {
    const dbFile = path.join(dir, 'older.db');
    // An "older" server: the bare CLI on the same file, with no --search-attribute flags.
    const port = await freePort();
    const bare = spawnServerProcess(cliPath, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', dbFile, '--headless']);
    try {
      await eventually(async () => expect(await isPortOpen(port)).toBe(true), { timeoutMs: 60_000 });
      const before = await eventually(async () => {
        const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
        try {
          return (await connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ?? {};
        } finally {
          await connection.close();
        }
      });
      expect(Object.keys(before)).not.toContain('LeadStage');
    } finally {
      await bare.stop();
    }

    const upgraded = await start({ dbFile, ui: false });
    await withClient(upgraded, async (_client, connection) => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(leadSearchAttributes.map((key) => key.name)));
      // Everything is there now, so a second pass adds nothing.
      expect(await ensureLeadSearchAttributes(connection, 'default')).toEqual([]);
    });
    await upgraded.stop();
  });

  it('fails with the server output when the port is taken', async () => {
    // Accepts and never answers; close() waits for open sockets, so remember them to destroy.
    const sockets = new Set<net.Socket>();
    const blocker = net.createServer((socket) => sockets.add(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startDevServer({ port, uiPort: 0, ui: false, dbFile: path.join(dir, 'busy.db'), cliPath })).rejects.toThrow(
        /exited \(code 1\) before answering[\s\S]*address already in use/,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
