import type { Api, Session } from './api.ts';

/** What a signed-in page gets: the API with the key, the session, who decides, a way to sign out. */
export interface Signed {
  api: Api;
  session: Session;
  by: string;
  canDecide: boolean;
  canSeeFunnel: boolean;
  /** Marketing (and admin) run campaigns. */
  canRunCampaigns: boolean;
}
