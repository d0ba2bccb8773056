/**
 * Deliverability: what mail providers tell us after a send (bounces, complaints, deliveries) as
 * one shape, and which of it takes an address off the mailing list. Pure: the feedback route,
 * the send activity and the tests run the same rules.
 */

/** Why an address gets no marketing email. */
export type SuppressionReason = 'unsubscribed' | 'hard_bounce' | 'soft_bounce' | 'complaint' | 'erased';

export type FeedbackKind = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'delivery';
/** Who told us: the generic JSON shape, Amazon SES (through SNS), or the relay's answer at send time. */
export type FeedbackSource = 'generic' | 'ses' | 'smtp';

/** One recipient's feedback about one email. */
export interface EmailFeedback {
  /** The same notification delivered again carries the same key: it changes nothing. */
  dedupeKey: string;
  email: string;
  kind: FeedbackKind;
  source: FeedbackSource;
  /** When it happened (ISO-8601), as the provider says. */
  at: string;
  /** Message-ID of the email it is about, when the provider gives it (ours: `<hex@leadflow>`). */
  messageId?: string;
  /** A short reason (SES bounce subtype, the SMTP reply), without the address. */
  detail?: string;
}

/** The generic shape (docs/api.md, "Email feedback"): one notification. */
export interface GenericFeedback {
  type: 'bounce' | 'complaint' | 'delivery';
  /** Bounces only: `hard` (permanent) or `soft` (transient). */
  bounceType?: 'hard' | 'soft';
  email: string;
  messageId?: string;
  at?: string;
}

/**
 * Generic notifications as feedback. Without `messageId` and `at` a notification has nothing of
 * its own to be recognised by: `deliveryId` (the signed delivery's) makes it unique to its delivery.
 */
export function fromGeneric(items: readonly GenericFeedback[], receivedAt: string, deliveryId: string): EmailFeedback[] {
  return items.map((item, index) => {
    const kind: FeedbackKind = item.type === 'complaint' ? 'complaint' : item.type === 'delivery' ? 'delivery' : item.bounceType === 'hard' ? 'hard_bounce' : 'soft_bounce';
    const own = item.messageId !== undefined || item.at !== undefined ? `${item.messageId ?? ''}|${item.at ?? ''}` : `${deliveryId}|${index}`;
    return {
      dedupeKey: `generic|${kind}|${item.email.toLowerCase()}|${own}`,
      email: item.email.toLowerCase(),
      kind,
      source: 'generic',
      at: item.at ?? receivedAt,
      ...(item.messageId !== undefined ? { messageId: item.messageId } : {}),
    };
  });
}

/** The parts of an Amazon SES notification we read (SES may add fields: the rest is ignored). */
export interface SesNotification {
  /** `Bounce`, `Complaint`, `Delivery` (SNS notifications); event publishing names it `eventType`. */
  notificationType?: string;
  eventType?: string;
  mail: {
    messageId: string;
    timestamp?: string;
    headers?: Array<{ name: string; value: string }>;
    commonHeaders?: { messageId?: string };
  };
  bounce?: {
    bounceType: string;
    bounceSubType?: string;
    bouncedRecipients: Array<{ emailAddress: string; status?: string; diagnosticCode?: string }>;
    timestamp: string;
    feedbackId: string;
  };
  complaint?: {
    complainedRecipients: Array<{ emailAddress: string }>;
    complaintFeedbackType?: string;
    complaintSubType?: string | null;
    timestamp: string;
    feedbackId: string;
  };
  delivery?: { recipients: string[]; timestamp: string; smtpResponse?: string };
}

/** The Message-ID we gave the email: SES rewrites the header, the original stays in `mail.headers`. */
function originalMessageId(mail: SesNotification['mail']): string | undefined {
  const header = mail.headers?.find((h) => h.name.toLowerCase() === 'message-id')?.value;
  return header ?? mail.commonHeaders?.messageId;
}

/** An email address in SES's `"Name" <address>` forms, bare. */
const bare = (address: string): string => (/<([^>]+)>/.exec(address)?.[1] ?? address).trim().toLowerCase();

/**
 * One feedback per recipient of an SES notification. Permanent bounces are hard; transient and
 * undetermined ones soft (SES: "you might be able to send successfully in the future"). A
 * `not-spam` feedback report is no complaint. Types we do not know give nothing.
 */
export function fromSes(notification: SesNotification): EmailFeedback[] {
  const type = notification.notificationType ?? notification.eventType;
  const messageId = originalMessageId(notification.mail);
  const about = messageId !== undefined ? { messageId } : {};
  if (type === 'Bounce' && notification.bounce) {
    const { bounce } = notification;
    const kind: FeedbackKind = bounce.bounceType === 'Permanent' ? 'hard_bounce' : 'soft_bounce';
    return bounce.bouncedRecipients.map((r) => ({
      dedupeKey: `ses|${bounce.feedbackId}|${bare(r.emailAddress)}`,
      email: bare(r.emailAddress),
      kind,
      source: 'ses',
      at: bounce.timestamp,
      ...about,
      detail: [bounce.bounceType, bounce.bounceSubType, r.status].filter(Boolean).join(' '),
    }));
  }
  if (type === 'Complaint' && notification.complaint) {
    const { complaint } = notification;
    if (complaint.complaintFeedbackType === 'not-spam') return [];
    return complaint.complainedRecipients.map((r) => ({
      dedupeKey: `ses|${complaint.feedbackId}|${bare(r.emailAddress)}`,
      email: bare(r.emailAddress),
      kind: 'complaint',
      source: 'ses',
      at: complaint.timestamp,
      ...about,
      detail: complaint.complaintFeedbackType ?? 'complaint',
    }));
  }
  if (type === 'Delivery' && notification.delivery) {
    const { delivery } = notification;
    return delivery.recipients.map((r) => ({
      dedupeKey: `ses|delivery|${notification.mail.messageId}|${bare(r)}`,
      email: bare(r),
      kind: 'delivery',
      source: 'ses',
      at: delivery.timestamp,
      ...about,
    }));
  }
  return [];
}

/**
 * Whether a feedback takes the address off the mailing list: a hard bounce and a complaint at
 * once, soft bounces when `softBouncesInRow` (this one included, since the last delivery)
 * reaches `softBounceLimit`. Undefined: the address may still be mailed.
 */
export function suppressionFor(kind: FeedbackKind, softBouncesInRow: number, softBounceLimit: number): SuppressionReason | undefined {
  if (kind === 'hard_bounce') return 'hard_bounce';
  if (kind === 'complaint') return 'complaint';
  if (kind === 'soft_bounce' && softBouncesInRow >= softBounceLimit) return 'soft_bounce';
  return undefined;
}
