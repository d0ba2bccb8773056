/** A zone (one the API lists) where it is about noon now: later emails fall in the default 08:00-20:00 window whenever the suite runs. */
export function noonZone(): string {
  const now = new Date();
  const hourIn = (timeZone: string) => Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(now));
  const zone = Intl.supportedValuesOf('timeZone').find((z) => Math.abs(hourIn(z) - 12) <= 1);
  if (!zone) throw new Error('no time zone where it is about noon now');
  return zone;
}
