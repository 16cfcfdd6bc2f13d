/**
 * Which copies of the leader's logical slots are safe to use after a failover, as Patroni's
 * `check_logical_slots_readiness` decides it. A copy is safe once the leader's physical slot for
 * this replica carries a `catalog_xmin` (hot_standby_feedback arrived) that has reached the
 * leader's logical slot's `catalog_xmin` (remembered when the feedback first showed) and is not
 * newer than the copy's own: from then on the leader keeps every catalog row the copy needs.
 * Only logged (Patroni does the same): the slot is used either way.
 */
export class LogicalReadiness {
  /** Slot name to the leader's logical `catalog_xmin` remembered for it (undefined: not yet). */
  private readonly pending = new Map<string, number | undefined>();

  /** A copy was just made (or found at start): not known safe yet. */
  add(name: string): void {
    this.pending.set(name, undefined);
  }

  /** Names still waiting for a remembered position (to ask the leader for), empty when none is pending. */
  get unremembered(): string[] {
    return [...this.pending].filter(([, xmin]) => xmin === undefined).map(([name]) => name);
  }

  get unsafe(): string[] {
    return [...this.pending.keys()];
  }

  /**
   * One check with what the leader answered: `physicalXmin` is the `catalog_xmin` of this replica's
   * slot there (null without feedback), `leaderXmins` the logical slots' ones, `localXmins` the
   * copies'. Returns the slots that became safe.
   *
   * @example
   * ```ts
   * const r = new LogicalReadiness();
   * r.add('cdc');
   * r.observe(null, { cdc: 700 }, { cdc: 690 }); // [] (no feedback yet)
   * r.observe(705, { cdc: 700 }, { cdc: 710 }); // ['cdc']
   * ```
   */
  observe(physicalXmin: number | null, leaderXmins: Readonly<Record<string, number>>, localXmins: Readonly<Record<string, number | undefined>>): string[] {
    if (physicalXmin === null) return [];
    for (const [name, xmin] of Object.entries(leaderXmins)) if (this.pending.has(name) && this.pending.get(name) === undefined) this.pending.set(name, xmin);
    const ready: string[] = [];
    for (const [name, leaderXmin] of this.pending) {
      const local = localXmins[name];
      // A copy that is gone needs no check.
      if (local === undefined || (leaderXmin !== undefined && leaderXmin <= physicalXmin && physicalXmin <= local)) ready.push(name);
    }
    for (const name of ready) this.pending.delete(name);
    return ready;
  }
}
