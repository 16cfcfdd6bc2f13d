/**
 * What the watchdog needs from a device. Implementations: the Linux device (through `wdctl`)
 * and the test driver (a FIFO or file). Start/keepalive/close failures throw; the caller decides
 * what a failure means for its mode.
 */
export interface WatchdogDriver {
  /** For log lines, e.g. `/dev/watchdog`. */
  readonly description: string;
  readonly isRunning: boolean;
  /** Whether the device looks usable without opening it (exists and is writable). */
  isAccessible(): boolean;
  /** Arms the device with `timeout` seconds; resolves with the timeout the device reports. */
  start(timeout: number): Promise<number | undefined>;
  keepalive(): void;
  /** Magic close: write `V` so the device disarms, then close it. */
  close(): void;
}
