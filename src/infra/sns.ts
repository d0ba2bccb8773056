import { createVerify, X509Certificate } from 'node:crypto';

/**
 * Amazon SNS messages to an HTTP(S) subscription (the way SES bounce and complaint notifications
 * arrive). SNS cannot add our signature header; it signs each message itself with the key of a
 * certificate it publishes on an `sns.<region>.amazonaws.com` HTTPS URL. We check that URL's host,
 * fetch the certificate over HTTPS (cached), verify the signature over SNS's string to sign
 * (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA), and accept only the topics we subscribed to:
 * any AWS account can create a topic and get its messages signed by SNS.
 */

/** The envelope SNS POSTs (Content-Type text/plain; the body is JSON). */
export interface SnsEnvelope {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

/** The header SNS sets on every delivery: Notification, SubscriptionConfirmation, UnsubscribeConfirmation. */
export const SNS_MESSAGE_TYPE_HEADER = 'x-amz-sns-message-type';

/** Why an SNS message was refused (the route answers 401 with `code`). */
export class SnsVerificationError extends Error {
  constructor(
    readonly code: 'invalid_sns_signature' | 'unknown_sns_topic',
    message: string,
  ) {
    super(message);
    this.name = 'SnsVerificationError';
  }
}

/** SNS's string to sign: the named fields, in this order, as `name\nvalue\n` (absent ones left out). */
export function snsStringToSign(envelope: SnsEnvelope): string {
  const fields =
    envelope.Type === 'Notification'
      ? (['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const)
      : (['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const);
  return fields
    .filter((name) => envelope[name] !== undefined)
    .map((name) => `${name}\n${envelope[name]}\n`)
    .join('');
}

/** An SNS endpoint of AWS: HTTPS on `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`). */
export function isSnsUrl(raw: string | undefined): boolean {
  if (!raw) return false;
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' && /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(url.hostname) && url.port === '';
  } catch {
    return false;
  }
}

export interface SnsOptions {
  /** The topics we subscribed to; a message from any other is refused. */
  topicArns: readonly string[];
  /** GETs an SNS URL (certificate, subscription confirmation) and answers its body; default: fetch with a 5 s timeout. */
  fetchText?: (url: string) => Promise<string>;
}

const fetchWithTimeout = async (url: string): Promise<string> => {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  if (!response.ok) throw new Error(`GET ${new URL(url).origin}${new URL(url).pathname} answered ${response.status}`);
  return response.text();
};

export class SnsVerifier {
  private readonly certificates = new Map<string, Promise<X509Certificate>>();
  private readonly fetchText: (url: string) => Promise<string>;

  constructor(private readonly options: SnsOptions) {
    this.fetchText = options.fetchText ?? fetchWithTimeout;
  }

  /** Throws SnsVerificationError unless the message is signed by SNS and comes from one of our topics. */
  async verify(envelope: SnsEnvelope): Promise<void> {
    if (!this.options.topicArns.includes(envelope.TopicArn)) {
      throw new SnsVerificationError('unknown_sns_topic', 'the message comes from an SNS topic this endpoint is not subscribed to (EMAIL_FEEDBACK_SNS_TOPICS)');
    }
    const algorithm = envelope.SignatureVersion === '1' ? 'RSA-SHA1' : envelope.SignatureVersion === '2' ? 'RSA-SHA256' : undefined;
    if (!algorithm) throw new SnsVerificationError('invalid_sns_signature', `SignatureVersion ${envelope.SignatureVersion} is not one SNS uses (1 or 2)`);
    if (!isSnsUrl(envelope.SigningCertURL) || !new URL(envelope.SigningCertURL).pathname.endsWith('.pem')) {
      throw new SnsVerificationError('invalid_sns_signature', 'SigningCertURL is not an HTTPS .pem URL on an sns.<region>.amazonaws.com host');
    }
    let certificate: X509Certificate;
    try {
      certificate = await this.certificate(envelope.SigningCertURL);
    } catch (error) {
      throw new SnsVerificationError('invalid_sns_signature', `the signing certificate could not be read: ${(error as Error).message}`);
    }
    const valid = createVerify(algorithm).update(snsStringToSign(envelope), 'utf8').verify(certificate.publicKey, envelope.Signature, 'base64');
    if (!valid) throw new SnsVerificationError('invalid_sns_signature', 'the SNS signature does not match the message');
  }

  /** Confirms a subscription: GETs its SubscribeURL (an SNS URL only). */
  async confirm(envelope: SnsEnvelope): Promise<void> {
    if (!isSnsUrl(envelope.SubscribeURL)) throw new SnsVerificationError('invalid_sns_signature', 'SubscribeURL is not an HTTPS URL on an sns.<region>.amazonaws.com host');
    await this.fetchText(envelope.SubscribeURL!);
  }

  private certificate(url: string): Promise<X509Certificate> {
    let cached = this.certificates.get(url);
    if (!cached) {
      cached = this.fetchText(url).then((pem) => {
        const certificate = new X509Certificate(pem);
        const now = Date.now();
        if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) throw new Error('the certificate is outside its validity period');
        return certificate;
      });
      // A failed fetch is not remembered: the next message tries again.
      cached.catch(() => this.certificates.delete(url));
      this.certificates.set(url, cached);
    }
    return cached;
  }
}
