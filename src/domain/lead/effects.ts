import type { DecisionRecord, SearchAttributeValues, SlaBreachRecord, TransitionRecord } from './state.js';
import type { Grade, LeadView, OutcomeRecord } from '../lead.js';

/**
 * What the lead machine asks its shell to do, as values. The workflow carries them out in two
 * lanes that never wait for each other: bookkeeping (read model, search attributes, owner, sales
 * email) and marketing email.
 */

export interface SendMarketingEmail {
  kind: 'sendMarketingEmail';
  sendKey: string;
  template: string;
  /** `onboarding@v1`. */
  sequence: string;
  step: number;
}

/** One event as the sales notification lists it. */
export interface EarnedPoints {
  type: string;
  points: number;
  occurredAt: string;
  /** The conditional rule that gave the points; absent: the flat table's entry for `type`. */
  rule?: string;
}

export interface NotifySales {
  kind: 'notifySales';
  sendKey: string;
  reviewNo: number;
  score: number;
  events: EarnedPoints[];
  owner: string | null;
  /** Fit grade (absent without fit rules). */
  grade?: Grade;
}

export interface RemindSales {
  kind: 'remindSales';
  sendKey: string;
  reviewNo: number;
  /** 1: the owner (or the sales inbox) is reminded; 2: the manager is told (again every SLA period). */
  level: 1 | 2;
  owner: string | null;
  score: number;
  waitingSince: string;
}

export interface RecordReadModel {
  kind: 'recordReadModel';
  /** Higher than every earlier write of this lead: Postgres keeps the newest. */
  revision: number;
  view: LeadView;
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
  slaBreaches: SlaBreachRecord[];
  /** Outcomes sales reported since the last write (absent: none). */
  outcomes?: OutcomeRecord[];
}

export interface SetSearchAttributes {
  kind: 'setSearchAttributes';
  /** Only the values that changed. */
  changes: Partial<SearchAttributeValues>;
}

export interface AssignOwner {
  kind: 'assignOwner';
  reviewNo: number;
}

export interface ContinueAsNew {
  kind: 'continueAsNew';
}

export type LeadEffect = SendMarketingEmail | NotifySales | RemindSales | RecordReadModel | SetSearchAttributes | AssignOwner | ContinueAsNew;

/** Which lane an effect runs in. */
export const laneOf = (effect: LeadEffect): 'marketing' | 'bookkeeping' | 'shell' =>
  effect.kind === 'sendMarketingEmail' ? 'marketing' : effect.kind === 'continueAsNew' ? 'shell' : 'bookkeeping';
