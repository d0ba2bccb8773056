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

/** Errors an SMTP server gives for an address that will never work (5xx on RCPT). */
export function isPermanentRecipientError(error: unknown): boolean {
  const e = error as { responseCode?: number; command?: string; code?: string };
  return (e.responseCode !== undefined && e.responseCode >= 500 && e.command === 'RCPT TO') || e.code === 'EENVELOPE';
}

/** A nodemailer SMTP transport for `smtp://` or `smtps://` URLs (credentials in the URL). */
export function createMailer(smtpUrl: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl, {});
  return {
    async send(message) {
      const info = await transport.sendMail(message);
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
  };
}
