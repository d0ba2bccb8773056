// The baselines' one activity: does nothing, so what it costs is the engine's round trip.

/** A no-op activity (baselines B and D). */
export async function benchNoop(): Promise<void> {
  return;
}
