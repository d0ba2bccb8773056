import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Api, ApiError, credentialStore, type Credentials, type Session } from './api.ts';
import { CampaignsPage } from './CampaignsPage.tsx';
import { FunnelPage } from './FunnelPage.tsx';
import { canImport, ImportPage } from './ImportPage.tsx';
import { LeadPage } from './LeadPage.tsx';
import { MailboxPage } from './MailboxPage.tsx';
import { QueuePage } from './QueuePage.tsx';
import { ScoringPage } from './ScoringPage.tsx';
import { hrefOf, useRoute, type Route } from './route.ts';
import type { HeadingRef } from './shared.tsx';
import type { Signed } from './signed.ts';

export function App() {
  const [credentials, setCredentials] = useState<Credentials | undefined>(() => credentialStore.load());
  const [session, setSession] = useState<Session>();
  const [problem, setProblem] = useState<string>();
  const api = useMemo(() => (credentials ? new Api(credentials.key) : undefined), [credentials]);

  const signOut = useCallback((why?: string) => {
    credentialStore.clear();
    setCredentials(undefined);
    setSession(undefined);
    setProblem(why);
  }, []);

  useEffect(() => {
    if (!api) return;
    let current = true;
    api.session().then(
      (s) => current && setSession(s),
      (error: unknown) => {
        if (!current) return;
        if (error instanceof ApiError && error.status === 401) signOut('That key was not accepted. Check it and sign in again.');
        else setProblem(`The API did not answer: ${(error as Error).message}`);
      },
    );
    return () => {
      current = false;
    };
  }, [api, signOut]);

  if (!credentials || !api) {
    return (
      <SignIn
        problem={problem}
        onSignIn={(c) => {
          credentialStore.save(c);
          setProblem(undefined);
          setCredentials(c);
        }}
      />
    );
  }
  if (!session) {
    return (
      <main className="centered" aria-busy={!problem}>
        <p role={problem ? 'alert' : 'status'}>{problem ?? 'Signing in…'}</p>
        {problem && (
          <button type="button" onClick={() => signOut()}>
            Sign in again
          </button>
        )}
      </main>
    );
  }
  const roles = session.roles;
  const signed: Signed = {
    api,
    session,
    by: credentials.by,
    canDecide: roles.includes('sales') || roles.includes('admin'),
    canSeeFunnel: roles.some((r) => r === 'sales' || r === 'marketing' || r === 'admin'),
    canRunCampaigns: roles.some((r) => r === 'marketing' || r === 'admin'),
  };
  return <Console signed={signed} onSignOut={() => signOut()} />;
}

function SignIn({ problem, onSignIn }: { problem: string | undefined; onSignIn: (c: Credentials) => void }) {
  const [key, setKey] = useState('');
  const [by, setBy] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (key.trim()) onSignIn({ key: key.trim(), by: by.trim() });
  };
  return (
    <main className="centered">
      <form className="card sign-in" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Leadflow console</h1>
        <p className="muted">Sign in with your role key. It stays in this browser tab only (session storage).</p>
        {problem && (
          <p role="alert" className="notice error">
            {problem}
          </p>
        )}
        <label htmlFor="key">Role key</label>
        <input id="key" name="key" type="password" autoComplete="current-password" required value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
        <label htmlFor="by">Your name or email</label>
        <input id="by" name="by" type="text" autoComplete="email" placeholder="recorded with your decisions" value={by} onChange={(e) => setBy(e.target.value)} />
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function Console({ signed, onSignOut }: { signed: Signed; onSignOut: () => void }) {
  const route = useRoute();
  const heading = useRef<HTMLHeadingElement>(null);
  // A notice (such as "Rejected …") belongs to the page it was shown on; leaving that page drops it.
  const [notice, setNotice] = useState<{ text: string; page: string }>();
  // Reviews decided here ("id#reviewNo"): the queue comes from the read model, which the worker
  // updates a moment after the decision, so the queue hides them rather than show them once more.
  const [decided, setDecided] = useState<ReadonlySet<string>>(new Set());
  // Keyboard and screen-reader users land on the new page's heading, not at the top of the old one.
  const routeKey = route.page === 'lead' ? `lead:${route.id}` : route.page === 'imports' ? `imports:${route.id ?? ''}` : route.page;
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    heading.current?.focus();
  }, [routeKey]);

  const nav: Array<{ route: Route; label: string; show: boolean }> = [
    { route: { page: 'queue' }, label: 'Review queue', show: true },
    { route: { page: 'funnel' }, label: 'Funnel', show: signed.canSeeFunnel },
    { route: { page: 'scoring' }, label: 'Scoring', show: signed.canSeeFunnel },
    { route: { page: 'campaigns' }, label: 'Campaigns', show: signed.canRunCampaigns },
    { route: { page: 'imports' }, label: 'Import', show: canImport(signed.session) },
    { route: { page: 'mailbox' }, label: 'Mailbox', show: signed.session.mailbox },
  ];
  const active = route.page === 'lead' ? 'queue' : route.page;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Leadflow</span>
        <nav aria-label="Console">
          <ul>
            {nav
              .filter((n) => n.show)
              .map((n) => (
                <li key={n.route.page}>
                  <a href={hrefOf(n.route)} aria-current={active === n.route.page ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
          </ul>
        </nav>
        <span className="who">
          <span className="muted">
            {signed.by || 'anonymous'} · {signed.session.roles.join(', ')}
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {notice && notice.page === routeKey && (
          <p role="status" className="notice success">
            {notice.text}{' '}
            <button type="button" className="link" onClick={() => setNotice(undefined)}>
              Dismiss
            </button>
          </p>
        )}
        {route.page === 'queue' && <QueuePage signed={signed} heading={heading} decided={decided} />}
        {route.page === 'lead' && (
          <LeadPage
            key={route.id}
            signed={signed}
            id={route.id}
            heading={heading}
            onDecided={(text, review) => {
              setDecided((set) => new Set([...set, review]));
              setNotice({ text, page: 'queue' });
            }}
          />
        )}
        {route.page === 'funnel' && (signed.canSeeFunnel ? <FunnelPage signed={signed} heading={heading} /> : <Forbidden heading={heading} />)}
        {route.page === 'scoring' && (signed.canSeeFunnel ? <ScoringPage signed={signed} heading={heading} /> : <Forbidden heading={heading} />)}
        {route.page === 'campaigns' && (signed.canRunCampaigns ? <CampaignsPage signed={signed} heading={heading} /> : <Forbidden heading={heading} />)}
        {route.page === 'imports' && (canImport(signed.session) ? <ImportPage signed={signed} heading={heading} id={route.id} /> : <Forbidden heading={heading} />)}
        {route.page === 'mailbox' && (signed.session.mailbox ? <MailboxPage signed={signed} heading={heading} /> : <Forbidden heading={heading} />)}
      </main>
    </>
  );
}

function Forbidden({ heading }: { heading: HeadingRef }) {
  return (
    <h1 ref={heading} tabIndex={-1}>
      Not available with this key
    </h1>
  );
}
