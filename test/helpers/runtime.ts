import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel, type TelemetryOptions } from '@temporalio/worker';

/**
 * Lines the SDK repeats for every worker on the time-skipping test server, which advertises no
 * `activity_failure_include_heartbeat` capability. They say nothing about the test, and a failing
 * test's output drowned in them.
 */
const NOISE = [/heartbeat details/i];

/** Whether a log line is known noise that test output leaves out. */
export const isTestLogNoise = (message: string): boolean => NOISE.some((pattern) => pattern.test(message));

/**
 * Installs the SDK runtime for a test process: WARN and above, the native core's lines forwarded
 * to the same logger, known noise (isTestLogNoise) left out.
 */
export function installTestRuntime(options: { level?: LogLevel; telemetryOptions?: Omit<TelemetryOptions, 'logging'> } = {}): void {
  const level = options.level ?? 'WARN';
  const base = new DefaultLogger(level);
  const logger = new DefaultLogger(level, (entry) => {
    if (!isTestLogNoise(entry.message)) base.log(entry.level, entry.message, entry.meta);
  });
  Runtime.install({ logger, telemetryOptions: { ...options.telemetryOptions, logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } } });
}
