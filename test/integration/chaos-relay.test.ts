import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultySmtp } from '../../chaos/harness.js';
import { createMailer, type Mailer } from '../../src/infra/mailer.js';
import { freePort } from '../../src/infra/net.js';

// The chaos relay's faults do what their names say, seen from a real nodemailer client.
let relay: FaultySmtp;
let mailer: Mailer;

beforeAll(async () => {
  relay = new FaultySmtp();
  const port = await freePort();
  await relay.listen(port);
  // A silent relay is given up on after 6 s here (30 s in production): the hang test waits for it.
  mailer = createMailer(`smtp://127.0.0.1:${port}`, { socketTimeoutMs: 6_000 });
});
afterAll(async () => {
  mailer?.close();
  await relay?.close();
});

const message = (key: string) => ({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't', html: '<p>t</p>', messageId: `<${key}@example.com>`, headers: { 'X-Leadflow-Send-Key': key } });

describe('chaos relay', () => {
  it('counts an accepted delivery by its send key', async () => {
    relay.mode = 'ok';
    await mailer.send(message('k-ok'));
    expect(relay.deliveredAt.get('k-ok')).toHaveLength(1);
  });

  it('smtp-drop destroys the connection once the message is in: the sender fails at once, nothing is counted', async () => {
    relay.mode = 'drop';
    const started = Date.now();
    const error = await mailer.send(message('k-drop')).catch((e: unknown) => e as Error);
    relay.mode = 'ok';
    expect(error).toBeInstanceOf(Error);
    // A closed connection, not the mailer's socket timeout (6 s here: that is what a hang looks like).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(relay.dropped).toBe(1);
    expect(relay.deliveredAt.has('k-drop')).toBe(false);
  });

  it('smtp-hang takes the message and never answers', async () => {
    relay.mode = 'hang';
    let settled = false;
    const sending = mailer.send(message('k-hang')).then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(settled).toBe(false);
    expect(relay.deliveredAt.has('k-hang')).toBe(false);
    relay.mode = 'ok';
    // Let the mailer give up on its own (socket timeout), so nothing outlives the test.
    await sending;
    expect(settled).toBe(true);
  }, 60_000);
});
