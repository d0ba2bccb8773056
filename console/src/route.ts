import { useEffect, useState } from 'react';

/** Where the console is: one of its pages, from the URL hash (#/queue, #/leads/ada, #/funnel, #/scoring, #/mailbox, #/campaigns, #/imports, #/imports/<id>). */
export type Route = { page: 'queue' } | { page: 'lead'; id: string } | { page: 'funnel' } | { page: 'scoring' } | { page: 'mailbox' } | { page: 'campaigns' } | { page: 'imports'; id?: string };

export function parseRoute(hash: string): Route {
  const [, page, id] = hash.replace(/^#/, '').split('/');
  if (page === 'leads' && id) return { page: 'lead', id: decodeURIComponent(id) };
  if (page === 'funnel') return { page: 'funnel' };
  if (page === 'scoring') return { page: 'scoring' };
  if (page === 'mailbox') return { page: 'mailbox' };
  if (page === 'campaigns') return { page: 'campaigns' };
  if (page === 'imports') return id ? { page: 'imports', id: decodeURIComponent(id) } : { page: 'imports' };
  return { page: 'queue' };
}

export const hrefOf = (route: Route): string => {
  if (route.page === 'lead') return `#/leads/${encodeURIComponent(route.id)}`;
  if (route.page === 'imports' && route.id) return `#/imports/${encodeURIComponent(route.id)}`;
  return `#/${route.page}`;
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const navigate = (route: Route): void => {
  window.location.hash = hrefOf(route);
};
