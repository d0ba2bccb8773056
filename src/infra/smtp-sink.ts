import { SMTPServer } from 'smtp-server';
import { simpleParser, type AddressObject } from 'mailparser';
import type { Pool } from './db.js';

export interface MailboxMessage {
  to: string[];
  from: string;
  subject: string;
  text: string | null;
  html: string | null;
  messageId: string | null;
  headers: Record<string, string>;
  receivedAt: string;
  /** True when an earlier delivery carried the same Message-ID: the relay received this email again. */
  repeat: boolean;
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`: what nodemailer connects to. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Largest message the sink accepts; bigger ones are refused at the SMTP level. */
const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

const addresses = (field: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((a) => a.value.map((v) => v.address ?? '')).filter(Boolean);

/**
 * The in-process SMTP server used instead of a real mail relay in development and tests.
 * It speaks real SMTP (nodemailer talks to it over TCP) and stores every message in the
 * `mailbox` table, read back at `GET /v1/dev/mailbox`. Every delivery is stored, as a real
 * relay's mailbox would show it: a resend of a Message-ID already received (a crash after the
 * hand-off, docs/reliability.md) is a second message marked `repeat`, never folded into the first.
 */
/** An SMTP reply the sink gives instead of accepting a recipient, e.g. `{ code: 550, message: '5.1.1 no such user' }`. */
export interface SmtpRefusal {
  code: number;
  message: string;
}

export interface SmtpSinkOptions {
  pool: Pool;
  port: number;
  host?: string;
  /**
   * Test mode: the reply for a recipient the sink should refuse (5xx permanent, 4xx transient),
   * undefined to accept it. Asked on every RCPT TO, so a test can change its mind between attempts.
   */
  refuse?: (address: string) => SmtpRefusal | undefined;
}

export async function startSmtpSink(options: SmtpSinkOptions): Promise<SmtpSink> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    banner: 'Leadflow development mailbox',
    onRcptTo(address, _session, callback) {
      const refusal = options.refuse?.(address.address);
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then(async (mail) => {
          const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
          const to = envelopeTo.length > 0 ? envelopeTo : addresses(mail.to);
          const from = addresses(mail.from)[0] ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : '');
          const headers: Record<string, string> = {};
          for (const line of mail.headerLines) headers[line.key] = line.line.slice(line.key.length + 1).trim();
          await options.pool.query(
            `INSERT INTO mailbox (message_id, from_address, to_addresses, subject, text_body, html_body, headers)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [mail.messageId ?? null, from, to, mail.subject ?? '', mail.text ?? null, typeof mail.html === 'string' ? mail.html : null, headers],
          );
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `smtp://${host}:${port}`,
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Messages the sink received, newest last; `to` filters on one recipient (case-insensitive). */
export async function readMailbox(pool: Pool, filter: { to?: string; limit?: number } = {}): Promise<MailboxMessage[]> {
  const result = await pool.query(
    `SELECT message_id, from_address, to_addresses, subject, text_body, html_body, headers, received_at,
            EXISTS (SELECT 1 FROM mailbox e WHERE e.message_id = m.message_id AND e.id < m.id) AS repeat
       FROM mailbox m
      WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM unnest(to_addresses) t WHERE lower(t) = lower($1))
      ORDER BY id
      LIMIT $2`,
    [filter.to ?? null, filter.limit ?? 500],
  );
  return result.rows.map((row) => ({
    to: row.to_addresses,
    from: row.from_address,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    messageId: row.message_id,
    headers: row.headers,
    receivedAt: new Date(row.received_at).toISOString(),
    repeat: row.repeat,
  }));
}
