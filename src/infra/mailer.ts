import nodemailer from 'nodemailer';

/** What an activity needs from a mail transport: send one message, get its id back. */
export interface Mailer {
  send(message: {
    from: string;
    to: string;
    cc?: string;
    subject: string;
    text: string;
    html: string;
    messageId: string;
    headers?: Record<string, string>;
  }): Promise<{ messageId: string }>;
  close(): void;
}

/**
 * A permanent SMTP failure: a 5xx reply (RFC 5321: "do not repeat the exact request"), or
 * nodemailer's envelope error, which it raises when every recipient was refused with one.
 * 4xx replies and lost connections are transient: they are retried.
 */
export function isPermanentSmtpError(error: unknown): boolean {
  const e = error as { responseCode?: number; code?: string };
  return (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) || (e.code === 'EENVELOPE' && !(typeof e.responseCode === 'number' && e.responseCode < 500));
}

/** A 4xx reply from the relay ("try again later": greylisting, a full mailbox, a rate limit), as opposed to a lost connection. */
export function isTransientSmtpReply(error: unknown): boolean {
  const code = (error as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 400 && code < 500;
}

/**
 * A nodemailer SMTP transport for `smtp://` or `smtps://` URLs (credentials in the URL).
 * `socketTimeoutMs`: how long a silent relay is waited for (30 s; tests of a hung relay shorten it).
 * `connections`: a pool of that many SMTP connections, each reused for up to 100 messages; 0
 * (the default) opens one per message. The pool saved about a tenth of a bulk import's time; it
 * stays off until a full test-suite and chaos run has been made with it (docs/decisions.md).
 */
export function createMailer(smtpUrl: string, { socketTimeoutMs = 30_000, connections = 0 }: { socketTimeoutMs?: number; connections?: number } = {}): Mailer {
  // nodemailer waits up to 2 min to connect and 10 min on a silent socket. A relay that hangs would
  // keep the send's transaction, row lock and pool connection that long, past the activity's own
  // timeout: enough hung sends fill the worker's pool and stall every activity (seen in a chaos run).
  // Bounded well under the 2-minute activity timeout, a hung relay is an ordinary, retried failure.
  const url = new URL(smtpUrl);
  url.searchParams.set('connectionTimeout', '10000');
  url.searchParams.set('greetingTimeout', '10000');
  url.searchParams.set('socketTimeout', String(socketTimeoutMs));
  if (connections > 0) {
    url.searchParams.set('pool', 'true');
    url.searchParams.set('maxConnections', String(connections));
    url.searchParams.set('maxMessages', '100');
  }
  const transport = nodemailer.createTransport(url.toString());
  return {
    async send(message) {
      const info = await transport.sendMail(message);
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
  };
}
