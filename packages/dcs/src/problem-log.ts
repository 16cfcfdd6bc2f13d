import type { ViewProblem } from './types.js';

/** Problems remembered at most; past this the log starts over (a problem may then be reported twice). */
const MAX_REMEMBERED = 1000;

/**
 * The unreadable values already reported: each bad value (key at a mod revision) is logged once,
 * not at every loop that reads it again.
 */
export class ProblemLog {
  private readonly seen = new Set<string>();

  /** The problems not reported before; they count as reported from now on. */
  unseen(problems: readonly ViewProblem[]): ViewProblem[] {
    const fresh: ViewProblem[] = [];
    for (const problem of problems) {
      const id = `${problem.key}@${problem.modRevision}`;
      if (this.seen.has(id)) continue;
      if (this.seen.size > MAX_REMEMBERED) this.seen.clear();
      this.seen.add(id);
      fresh.push(problem);
    }
    return fresh;
  }
}
