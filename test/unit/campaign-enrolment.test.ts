import { describe, expect, it } from 'vitest';
import {
  CAMPAIGNS_KEPT,
  CAMPAIGN_SKIP_REASONS,
  checkCampaignEnrolment,
  marketingSendKey,
  newLeadState,
  pinnedTemplate,
  reduce,
  type CampaignEnrolment,
  type CampaignSkipReason,
  type LeadContext,
  type LeadEffect,
  type LeadInput,
  type LeadMachineState,
} from '../../src/domain/lead/index.js';
import { campaignSnapshot, defaultProgram, programSnapshot, sequences } from '../../src/sequences/catalog.js';
import type { Program } from '../../src/sequences/model.js';

/** The lead machine's campaign input, pure: every skip reason, what an enrolment changes, its bounds. */

const T0 = Date.UTC(2026, 0, 5, 10);
const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
const program = programSnapshot('onboarding', anyHour);
const webinar = (campaignId = 'spring'): CampaignEnrolment => ({ campaignId, ...campaignSnapshot('webinar-invite') });

class Lead {
  state: LeadMachineState;
  effects: LeadEffect[] = [];
  now = T0;
  constructor() {
    this.state = newLeadState({ id: 'C1', email: 'c1@example.com' }, this.ctx());
    this.send({ kind: 'enrolment' });
    this.answer();
  }
  ctx(): LeadContext {
    return { now: this.now, program };
  }
  send(input: LeadInput): LeadEffect[] {
    const out = reduce(this.state, input, this.ctx());
    this.state = out.state;
    this.effects.push(...out.effects);
    return out.effects;
  }
  answer(): LeadEffect[] {
    return this.send({ kind: 'effectResult', result: { kind: 'emailAnswered', sendKey: this.state.emailInFlight!.sendKey, outcome: 'sent' } });
  }
  campaign(enrolment: CampaignEnrolment): LeadEffect[] {
    return this.send({ kind: 'campaignEnrolment', ...enrolment });
  }
  event(type: string, n: number): void {
    this.send({ kind: 'engagement', event: { eventId: `c-${n}`, type, occurredAt: new Date(this.now).toISOString() } });
  }
}

/** A parked nurturing lead brought into the situation of each skip reason. */
const situations: Record<CampaignSkipReason, (lead: Lead) => void> = {
  already_enrolled: (lead) => {
    lead.campaign(webinar());
    lead.answer();
    // It finished the invite's first steps and went elsewhere since: the campaign id still counts.
    lead.campaign({ campaignId: 'other', ...campaignSnapshot('recycle') });
  },
  closed: (lead) => lead.send({ kind: 'decision', decision: { kind: 'disqualify', by: 'admin', reason: 'spam' } }),
  unsubscribed: (lead) => lead.send({ kind: 'unsubscribe' }),
  in_review: (lead) => ['product.compared', 'product.compared', 'pricing.viewed'].forEach((type, i) => lead.event(type, i)),
  in_sequence: (lead) => lead.campaign({ campaignId: 'earlier', ...campaignSnapshot('webinar-invite') }),
};

describe('campaign enrolment: skip reasons', () => {
  it('names every reason the campaign counts', () => {
    expect(Object.keys(situations).sort()).toEqual([...CAMPAIGN_SKIP_REASONS].sort());
  });

  for (const reason of CAMPAIGN_SKIP_REASONS) {
    it(`${reason}: refused by the check, and the machine changes nothing`, () => {
      const lead = new Lead();
      situations[reason](lead);
      const before = structuredClone(lead.state);
      expect(checkCampaignEnrolment(lead.state, webinar(), lead.ctx())?.code).toBe(reason);
      expect(lead.campaign(webinar())).toEqual([]);
      expect(lead.state).toEqual(before);
    });
  }

  it('already_enrolled wins over every later state (a campaign retrying after a crash hears it enrolled the lead)', () => {
    const lead = new Lead();
    lead.campaign(webinar());
    lead.answer();
    situations.in_review(lead);
    expect(lead.state.stage).toBe('sales_review');
    expect(checkCampaignEnrolment(lead.state, webinar(), lead.ctx())?.code).toBe('already_enrolled');
  });

  it('a lead that finished the campaign sequence may be enrolled in it again by another campaign', () => {
    const lead = new Lead();
    const short = { campaignId: 'one', sequence: { id: 'one-mail', version: 1, description: 't', steps: [{ kind: 'email' as const, template: 'welcome' }] } };
    lead.campaign(short);
    lead.answer();
    expect(lead.state.sequence).toMatchObject({ id: 'one-mail', step: 1 });
    expect(checkCampaignEnrolment(lead.state, { ...short, campaignId: 'two' }, lead.ctx())).toBeUndefined();
  });
});

describe('campaign enrolment: what it changes', () => {
  it('ends the current sequence and starts the campaign one as the next enrolment, its first email at once, keys unique', () => {
    const lead = new Lead();
    const welcomeKey = marketingSendKey('C1', { id: 'onboarding', version: 1, enrolment: 1, step: 0 });
    expect(lead.effects.find((e) => e.kind === 'sendMarketingEmail')).toMatchObject({ sendKey: welcomeKey });
    const out = lead.campaign(webinar());
    expect(lead.state.sequence).toMatchObject({ id: 'webinar-invite', version: 1, step: 0, enrolment: 2 });
    expect(lead.state.campaigns).toEqual(['spring']);
    const email = out.find((e) => e.kind === 'sendMarketingEmail');
    expect(email).toMatchObject({ template: 'webinar-invite', sendKey: 'C1:webinar-invite@v1:e2:s0' });
    expect(email && 'sendKey' in email ? email.sendKey : '').not.toBe(welcomeKey);
    // The read model and the Temporal UI hear of the new sequence.
    expect(out.find((e) => e.kind === 'setSearchAttributes')).toMatchObject({ changes: { sequence: 'webinar-invite@v1' } });
    expect(lead.state.timeline.at(-1)?.text).toBe('campaign spring: onboarding@v1 ends at step 1; webinar-invite@v1 starts (enrolment 2)');
  });

  it('pins the campaign sequence, the sequences its gotos reach and their template sources, so the lead runs them whatever the catalog says later', () => {
    const lead = new Lead();
    lead.campaign(webinar());
    expect(lead.state.pinned.map((s) => s.id).sort()).toEqual(['onboarding', 'webinar-invite']);
    expect(lead.state.pinned.find((s) => s.id === 'webinar-invite')).toEqual(sequences['webinar-invite']);
    // And its templates' sources, which win over the program's of the same id.
    const snapshot = campaignSnapshot('webinar-invite');
    expect(Object.keys(lead.state.templates ?? {}).sort()).toEqual(Object.keys(snapshot.templates!).sort());
    expect(pinnedTemplate(lead.state, program, 'webinar-invite')).toEqual(snapshot.templates!['webinar-invite']);
    expect(pinnedTemplate(lead.state, program, 'no-such-template')).toBeUndefined();
  });

  it('an email in flight from the old sequence does not move the new one on', () => {
    const lead = new Lead();
    lead.now += 2 * 86_400_000;
    lead.send({ kind: 'timerDue' });
    const inFlight = lead.state.emailInFlight!;
    expect(inFlight.at.id).toBe('onboarding');
    expect(lead.campaign(webinar()).filter((e) => e.kind === 'sendMarketingEmail')).toEqual([]);
    // The old email's answer leaves the new sequence at its start; the invite goes next.
    const after = lead.answer();
    expect(lead.state.sequence).toMatchObject({ id: 'webinar-invite', enrolment: 2 });
    expect(after.find((e) => e.kind === 'sendMarketingEmail')).toMatchObject({ template: 'webinar-invite', sendKey: 'C1:webinar-invite@v1:e2:s0' });
  });

  it(`remembers at most ${CAMPAIGNS_KEPT} campaigns and at most one pinned version per sequence id`, () => {
    const lead = new Lead();
    for (let i = 0; i < CAMPAIGNS_KEPT + 20; i++) {
      const snapshot = campaignSnapshot(i % 2 ? 'webinar-invite' : 'recycle');
      lead.campaign({ campaignId: `c${i}`, ...snapshot });
      if (lead.state.emailInFlight) lead.answer();
    }
    expect(lead.state.campaigns).toHaveLength(CAMPAIGNS_KEPT);
    expect(lead.state.campaigns?.[0]).toBe('c20');
    expect(new Set(lead.state.pinned.map((s) => s.id)).size).toBe(lead.state.pinned.length);
  });
});
