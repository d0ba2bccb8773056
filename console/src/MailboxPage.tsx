import { useState } from 'react';
import type { MailMessage } from './api.ts';
import type { Signed } from './signed.ts';
import { age, when } from './format.ts';
import { LoadProblem, useLoad, type HeadingRef } from './shared.tsx';

/** What the embedded SMTP sink received, each email rendered as its recipient would see it. */
export function MailboxPage({ signed, heading }: { signed: Signed; heading: HeadingRef }) {
  const [to, setTo] = useState('');
  const [applied, setApplied] = useState('');
  const { data: messages, error, loading, reload } = useLoad(() => signed.api.mailbox(applied || undefined), [signed.api, applied], 15_000);
  const [openId, setOpenId] = useState<string>();
  const keyOf = (m: MailMessage, i: number) => m.messageId ?? `${m.receivedAt}-${i}`;
  const open = messages?.find((m, i) => keyOf(m, i) === openId);

  return (
    <section aria-labelledby="mailbox-title">
      <div className="page-head">
        <h1 id="mailbox-title" ref={heading} tabIndex={-1}>
          Mailbox
        </h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <p className="muted">Every email the system sent, as the embedded SMTP sink received it (development only).</p>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(to.trim());
        }}
      >
        <div>
          <label htmlFor="m-to">Recipient</label>
          <input id="m-to" type="search" placeholder="ada@example.com" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <button type="submit">Show</button>
      </form>
      <LoadProblem error={error} />
      <div className="mailbox">
        <ul className="messages" aria-label="Messages, newest first" aria-busy={loading}>
          {messages?.map((m, i) => (
            <li key={keyOf(m, i)}>
              <button type="button" className="message" aria-pressed={openId === keyOf(m, i)} onClick={() => setOpenId(keyOf(m, i))}>
                <strong>{m.subject || '(no subject)'}</strong>
                {m.repeat && <span className="badge">repeat</span>}
                <span className="sub">
                  to {m.to.join(', ')} · {age(m.receivedAt)}
                </span>
              </button>
            </li>
          ))}
          {messages && messages.length === 0 && <li className="muted">No email{applied ? ` to ${applied}` : ''} yet.</li>}
        </ul>
        <div className="message-view">
          {open ? (
            <>
              <dl className="facts">
                <dt>Subject</dt>
                <dd>{open.subject}</dd>
                <dt>From</dt>
                <dd>{open.from}</dd>
                <dt>To</dt>
                <dd>{open.to.join(', ')}</dd>
                <dt>Received</dt>
                <dd>{when(open.receivedAt)}{open.repeat ? ' (again: an earlier delivery had this Message-ID)' : ''}</dd>
              </dl>
              {open.html ? (
                // A sandbox without allow-scripts or allow-same-origin: the email's HTML renders as in a mail client and can do nothing else.
                <iframe className="email" title={`Email: ${open.subject}`} sandbox="" srcDoc={open.html} />
              ) : (
                <pre className="email-text">{open.text}</pre>
              )}
            </>
          ) : (
            <p className="muted">Choose a message to read it.</p>
          )}
        </div>
      </div>
    </section>
  );
}
