import type { HandlerResult, HealthApiHandlers, RestartRequest } from '@pgtools/health-api';

/** What the maintenance operations need from the agent; called from inside the HA loop only. */
export interface MaintenanceHost {
  /** `primary` or `replica` as PostgreSQL runs now; undefined when it does not run. */
  role(): 'primary' | 'replica' | undefined;
  /** `server_version_num`, e.g. 150004. */
  serverVersion(): number | undefined;
  /** Some setting waits for a restart (`pg_settings.pending_restart`). */
  pendingRestart(): Promise<boolean>;
  /** The leader key's holder in the current view (undefined: no leader, or no view). */
  leader(): string | undefined;
  name: string;
  /** Stops PostgreSQL (fast) and starts it again in the same role; true when it accepts connections within `timeoutMs`. */
  restartPostgres(timeoutMs: number): Promise<boolean>;
  /** Stops PostgreSQL and empties the data dir, so that the loop clones it again. */
  wipeDataDir(): Promise<void>;
  wake(): void;
  log(message: string): void;
  /** A long action running off the loop (replica creation), in Patroni's words; undefined when none. */
  longAction?(): string | undefined;
  /** Cancels that action (`POST /reinitialize` with `force`) and waits until it cleaned up. */
  cancelLongAction?(): Promise<void>;
}

type Job = { kind: 'restart' | 'reinitialize'; run: () => Promise<HandlerResult>; resolve: (r: HandlerResult) => void };

/** Patroni's `postgres_version_to_int`: '15.4' → 150004, '9.6.3' → 90603. */
function versionToInt(v: string): number {
  const parts = v.split('.').map(Number);
  const [a = 0, b = 0, c = 0] = parts;
  return a >= 10 ? a * 10000 + b : a * 10000 + b * 100 + c;
}

/**
 * `POST /restart` (now or at `schedule`), `DELETE /restart` and `POST /reinitialize`, queued for the
 * HA loop: the loop runs them at the start of a cycle, so they never race its own actions (a
 * restart must not look like a crash, a wiped data dir must not be "repaired" mid-way).
 *
 * @example
 * ```ts
 * import { MaintenanceQueue } from '@pgtools/ha-agent/internals';
 * const queue = new MaintenanceQueue(host);
 * const handlers = { ...otherHandlers, ...queue.handlers() };
 * // in the HA loop, each cycle:
 * await queue.runDue();
 * ```
 */
export class MaintenanceQueue {
  private readonly jobs: Job[] = [];
  private scheduled: { at: number; request: RestartRequest; timer: NodeJS.Timeout } | undefined;
  /**
   * The last reinitialize asked `from_leader` (Patroni 4.1's `reinit --from-leader`): the loop
   * clones the emptied data dir from the leader with pg_basebackup only, then clears this.
   */
  reinitFromLeader = false;

  constructor(private readonly host: MaintenanceHost) {}

  /** The member key's / `GET /patroni`'s `scheduled_restart`, Patroni's shape. */
  scheduledRestart(): { schedule: string; [key: string]: unknown } | undefined {
    const s = this.scheduled;
    if (!s) return undefined;
    const out: { schedule: string; [key: string]: unknown } = { schedule: new Date(s.at).toISOString().replace('Z', '+00:00') };
    if (s.request.role) out.role = s.request.role === 'primary' ? 'master' : 'replica';
    if (s.request.postgresVersion) out.postgres_version = s.request.postgresVersion;
    if (s.request.restartPending) out.restart_pending = true;
    if (s.request.timeout !== undefined) out.timeout = s.request.timeout;
    return out;
  }

  handlers(): Pick<HealthApiHandlers, 'restart' | 'cancelRestart' | 'reinitialize'> {
    return {
      restart: async (request) => {
        if (request.scheduledAt) {
          if (this.scheduled) return { status: 409, body: 'Another restart is already scheduled' };
          const at = request.scheduledAt.getTime();
          const timer = setTimeout(() => this.host.wake(), Math.max(0, at - Date.now()));
          timer.unref();
          this.scheduled = { at, request, timer };
          this.host.wake();
          return { status: 202, body: 'Restart scheduled' };
        }
        // Patroni's answer while its async executor is busy: the loop would not run it for hours.
        const long = this.host.longAction?.();
        if (long !== undefined) return { status: 503, body: `${long} already in progress` };
        return this.enqueue('restart', () => this.restart(request));
      },
      cancelRestart: async () => {
        if (!this.scheduled) return { status: 404, body: 'no restarts are scheduled' };
        clearTimeout(this.scheduled.timer);
        this.scheduled = undefined;
        this.host.wake();
        return { status: 200, body: 'scheduled restart deleted' };
      },
      reinitialize: async ({ force, fromLeader = false }) => {
        const leader = this.host.leader();
        if (leader === undefined) return { status: 503, body: 'Cluster has no leader, can not reinitialize' };
        if (leader === this.host.name) return { status: 503, body: 'I am the leader, can not reinitialize' };
        const busy = this.jobs[0];
        if (busy && !force) return { status: 503, body: `${busy.kind} already in progress` };
        const long = this.host.longAction?.();
        if (long !== undefined) {
          if (!force) return { status: 503, body: `${long} already in progress` };
          await this.host.cancelLongAction?.();
        }
        return this.enqueue('reinitialize', async () => {
          this.reinitFromLeader = fromLeader;
          await this.host.wipeDataDir();
          return { status: 200, body: 'reinitialize started' };
        });
      },
    };
  }

  /** Runs queued operations and a due scheduled restart; called by the loop at the start of a cycle. */
  async runDue(): Promise<void> {
    const s = this.scheduled;
    if (s && s.at <= Date.now()) {
      this.scheduled = undefined;
      const r = await this.restart(s.request);
      this.host.log(`scheduled restart: ${r.body}`);
    }
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
      try {
        job.resolve(await job.run());
      } catch (err) {
        job.resolve({ status: 503, body: `${job.kind} failed: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }

  /** Answers every waiting request (the agent stops). */
  cancelAll(): void {
    if (this.scheduled) clearTimeout(this.scheduled.timer);
    this.scheduled = undefined;
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) job.resolve({ status: 503, body: 'the agent is stopping' });
  }

  private enqueue(kind: Job['kind'], run: () => Promise<HandlerResult>): Promise<HandlerResult> {
    return new Promise<HandlerResult>((resolve) => {
      this.jobs.push({ kind, run, resolve });
      this.host.wake();
    });
  }

  private async restart(request: RestartRequest): Promise<HandlerResult> {
    const role = this.host.role();
    const version = this.host.serverVersion();
    let mismatch = '';
    if (request.role && request.role !== role) mismatch = 'host role mismatch';
    else if (request.postgresVersion && version !== undefined && versionToInt(request.postgresVersion) <= version) mismatch = 'postgres version mismatch';
    else if (request.restartPending && !(await this.host.pendingRestart())) mismatch = 'pending restart flag is not set';
    if (mismatch) {
      this.host.log(`restart conditions are not satisfied: ${mismatch}`);
      return { status: 503, body: 'restart conditions are not satisfied' };
    }
    const ok = await this.host.restartPostgres((request.timeout ?? 60) * 1000);
    return ok ? { status: 200, body: 'restarted successfully' } : { status: 503, body: 'restart failed' };
  }
}
