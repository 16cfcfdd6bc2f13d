import { errMessage } from './agent-errors.js';

/** How a replica creation ended, waiting for the HA loop to act on it. */
export interface ReplicaJobOutcome {
  /** The member cloned from; undefined for a `no_leader` restore. */
  from: string | undefined;
  /** What ran, in Patroni's words: `bootstrap from leader 'node1'`, `bootstrap (without leader)`. */
  description: string;
  /** The method that worked, or undefined when all failed or the job was cancelled. */
  method: string | undefined;
  error: string | undefined;
}

/**
 * The replica creation running off the HA loop (Patroni's async executor): the loop keeps
 * publishing the member key ("creating replica") and stays responsive to a stop while a restore
 * of a big database takes hours. One at a time; `cancel()` aborts it and waits until it cleaned up.
 */
export class ReplicaJob {
  private running: { description: string; abort: AbortController; done: Promise<void> } | undefined;
  private outcome: ReplicaJobOutcome | undefined;

  constructor(private readonly onSettled: () => void) {}

  /** What runs, in Patroni's words (`bootstrap from leader 'node1'`), or undefined. */
  get description(): string | undefined {
    return this.running?.description;
  }

  /** Starts `work` unless a job runs already; `work` resolves with the method that worked. */
  start(from: string | undefined, description: string, work: (signal: AbortSignal) => Promise<string>): void {
    if (this.running) return;
    const abort = new AbortController();
    const done = work(abort.signal).then(
      (method) => {
        this.outcome = { from, description, method, error: undefined };
      },
      (err: unknown) => {
        this.outcome = { from, description, method: undefined, error: errMessage(err) };
      },
    );
    this.running = {
      description,
      abort,
      done: done.finally(() => {
        this.running = undefined;
        this.onSettled();
      }),
    };
  }

  /** The outcome of a finished job, once (the loop acts on it). */
  takeOutcome(): ReplicaJobOutcome | undefined {
    const o = this.outcome;
    this.outcome = undefined;
    return o;
  }

  /** Aborts a running job (its process group is killed, the data dir emptied) and waits for it. */
  async cancel(): Promise<void> {
    const r = this.running;
    if (!r) return;
    r.abort.abort();
    await r.done;
    this.outcome = undefined;
  }
}
