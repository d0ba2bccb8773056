import { describe, expect, it } from 'vitest';
import { isTestLogNoise } from '../helpers/runtime.js';

describe('test log filter', () => {
  it("drops the time-skipping server's repeated heartbeat-details warning and keeps everything else", () => {
    expect(isTestLogNoise('Temporal Server 1.16.0 or newer is required to guarantee that the latest heartbeat details are preserved when an activity fails; the server did not advertise the activity_failure_include_heartbeat capability, so heartbeat details may be lost on failure')).toBe(true);
    expect(isTestLogNoise('Activity failed')).toBe(false);
    expect(isTestLogNoise('Workflow task failed: TypeError: x is not a function')).toBe(false);
  });
});
