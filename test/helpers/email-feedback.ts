import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { snsStringToSign, type SnsEnvelope } from '../../src/infra/sns.js';

/**
 * The email-feedback fixtures (test/fixtures/email-feedback/): the generic shape, Amazon SES
 * notifications as AWS documents them, the SNS envelopes they travel in, and a test certificate
 * (CN=sns.amazonaws.com, made with openssl for these tests) whose key signs the envelopes the way
 * SNS does. The route fetches the certificate through `snsFetch`, served from here.
 */
const DIR = path.join(import.meta.dirname, '..', 'fixtures', 'email-feedback');

export const fixture = (name: string): string => readFileSync(path.join(DIR, name), 'utf8');
export const fixtureJson = <T = Record<string, unknown>>(name: string): T => JSON.parse(fixture(name)) as T;

export const SNS_TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
const CERT_URL = 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';
const KEY = fixture('sns-test-key.pem');

/** Signs an envelope as SNS does (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA). */
export function signSns(envelope: SnsEnvelope): SnsEnvelope {
  const signer = createSign(envelope.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  signer.update(snsStringToSign(envelope), 'utf8');
  return { ...envelope, Signature: signer.sign(KEY, 'base64') };
}

/** The SNS Notification fixture carrying `message` (an SES notification), signed. */
export function snsNotification(message: unknown, overrides: Partial<SnsEnvelope> = {}): SnsEnvelope {
  return signSns({ ...fixtureJson<SnsEnvelope>('sns-notification.json'), Message: JSON.stringify(message), ...overrides });
}

/** What the route's SNS fetch sees: the test certificate at its URL, and every URL asked for. */
export function snsEndpoint(): { fetchText: (url: string) => Promise<string>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    fetchText: async (url: string) => {
      asked.push(url);
      if (url === CERT_URL) return fixture('sns-test-cert.pem');
      if (url.includes('Action=ConfirmSubscription')) return '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:us-west-2:123456789012:MyTopic:1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>';
      throw new Error(`no such SNS URL in the fixtures: ${url}`);
    },
  };
}
