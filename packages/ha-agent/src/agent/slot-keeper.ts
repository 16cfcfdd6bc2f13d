import { sqlStateOf, type Logger } from '@pgtools/core';
import { slotIgnored } from '../config/slots-config.js';
import { withConnection, type PgEndpoint } from '../postgres/pg-connection.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import { slotNameFor } from '../postgres/replication-slots.js';
import {
  advanceSlot,
  createLogicalSlot,
  createPhysicalSlot,
  dropInactiveSlot,
  installSlotStateFile,
  listSlots,
  readSlotStateFiles,
  slotCatalogXmins,
  type LocalSlot,
} from '../postgres/slot-queries.js';
import { errMessage } from './agent-errors.js';
import type { AgentRunState } from './agent-state.js';
import { LogicalReadiness } from './logical-readiness.js';
import { permanentSlotPlan, publishedSlotPositions, wantedPermanentSlots, type PermanentSlotPlan } from './permanent-slots.js';
import { slotPlan } from './slot-retention.js';
import { serverOf, upstreamMembers } from './view-mapping.js';

/**
 * A logical slot whose copy did not take is copied again only after this long: each copy restarts
 * the replica (Patroni retries every loop; a restart per loop_wait would keep a replica mostly down).
 */
const COPY_RETRY_MS = 60_000;

/** SQLSTATEs of a failed advance that a fresh copy cures (Patroni: WAL file gone 58P01, slot invalidated 55000). */
const RECOPY_STATES = new Set(['58P01', '55000']);

/** What the leader adds to the `status` key (Patroni 4's `slots` and `retain_slots`). */
export interface SlotStatus {
  slots?: Record<string, number>;
  retain_slots?: string[];
}

export interface SlotKeeperDeps {
  state: AgentRunState;
  pg: PostgresControl;
  logger: Logger;
  /** When each member was last seen in etcd (see `slotRetention`). */
  membersSeenAt: Map<string, number>;
  /** Stops this replica, runs `between` while PostgreSQL is down, and starts it again following its upstream. */
  restartReplicaAround(between: () => Promise<void>): Promise<void>;
}

/**
 * The replication slots of this node: members' physical slots (`slotPlan`) and the permanent
 * slots of the dynamic configuration (`permanentSlotPlan`), including Patroni's logical slot
 * failover for PostgreSQL 15 (copies of the leader's logical slots on the replicas, advanced to
 * the positions the leader publishes in `status.slots`).
 */
export class SlotKeeper {
  /** On a replica: members it created a slot for because they cascade from it. */
  private readonly cascading = new Set<string>();
  /** Permanent slots this process created or copied (with the names the leader published: the ones it may drop). */
  private readonly created = new Set<string>();
  /**
   * Logical slot creation (leader) or advancing (replica), off the loop: either may wait long. A
   * promotion does not wait for it: an advance still running only moves a copy up to a position the
   * consumer had confirmed.
   */
  private background: Promise<void> | undefined;
  private readonly copiedAt = new Map<string, number>();
  private conflictsLogged = '';
  /** This leadership term has taken over the `retain_slots` of the `status` key (see `adoptRetained`). */
  private retainAdopted = false;
  /** Copies of logical slots not yet known safe to use after a failover (from the first replica cycle on). */
  private readiness: LogicalReadiness | undefined;
  /** What the last successful upkeep published: kept in `status` when one cycle's upkeep fails. */
  private lastStatus: SlotStatus = {};

  constructor(private readonly d: SlotKeeperDeps) {}

  private get name(): string {
    return this.d.state.name;
  }

  /**
   * One cycle's upkeep. As leader (`asLeader`): the member slots, the permanent slots, and what to
   * publish in `status`. As a replica: the slots of members cascading from it and the permanent slots.
   */
  async maintain(asLeader: boolean): Promise<SlotStatus> {
    const kept = await this.memberSlots(asLeader);
    return this.permanentSlots(asLeader, kept).then(
      (status) => (this.lastStatus = status),
      (err) => {
        this.d.logger.warn(`replication slots: ${errMessage(err)}`);
        // The status key is written whole: publishing nothing would drop `retain_slots` and the positions the replicas follow.
        return this.lastStatus;
      },
    );
  }

  /**
   * On the leader: a slot for every member that streams from it or was seen lately, none for
   * members gone for good or streaming elsewhere. On a replica: a slot for each member that
   * cascades from it (`replicatefrom`). See `slotPlan`. Returns the member slot names kept.
   */
  private async memberSlots(asLeader: boolean): Promise<string[]> {
    const { pg, logger, membersSeenAt, state } = this.d;
    if (asLeader && !this.retainAdopted) this.adoptRetained();
    this.retainAdopted = asLeader;
    const members = upstreamMembers(state.view);
    const leader = asLeader ? this.name : state.view?.leader?.name;
    const ttlMs = state.dynamic.memberSlotsTtlMs;
    const plan = slotPlan({ members, seenAt: membersSeenAt, me: this.name, leader, now: Date.now(), cascading: this.cascading, ttlMs });
    const keep = plan.keep;
    // Two names may map to one slot (`slotNameFor`): a slot still kept is never dropped; nor one ignore_slots protects.
    const keepSlots = new Set(keep.map(slotNameFor));
    const drop = plan.drop.filter((n) => !keepSlots.has(slotNameFor(n)) && !slotIgnored(state.dynamic.ignoreSlots, { name: slotNameFor(n), type: 'physical' }));
    const expired = plan.expired.filter((n) => drop.includes(n));
    // A replica with nobody cascading from it has nothing to do: no connection each cycle.
    if (asLeader || keep.length > 0) {
      const created = await pg.ensureSlots(keep).catch((err) => {
        logger.warn(`replication slots: ${errMessage(err)}`);
        return [];
      });
      if (!asLeader) {
        for (const name of keep) this.cascading.add(name);
        if (created.length > 0) logger.info(`created replication slots for members cascading from this replica: ${created.join(', ')}`);
      }
    }
    if (drop.length === 0) return [...keepSlots];
    const dropped = await pg.dropSlots(drop).catch((err) => {
      logger.warn(`replication slots: ${errMessage(err)}`);
      return [] as string[];
    });
    for (const name of expired) membersSeenAt.delete(name);
    for (const name of drop) if (dropped.includes(slotNameFor(name))) this.cascading.delete(name);
    const gone = dropped.filter((s) => expired.some((n) => slotNameFor(n) === s));
    const elsewhere = dropped.filter((s) => !gone.includes(s));
    if (gone.length > 0) logger.info(`dropped the replication slots of members gone for ${ttlMs / 1000} s (member_slots_ttl): ${gone.join(', ')}`);
    if (elsewhere.length > 0)
      logger.info(`dropped the replication slots of members that do not stream from this node (replicatefrom, nostream): ${elsewhere.join(', ')}`);
    return [...keepSlots];
  }

  /**
   * On becoming leader: the slots the previous leader (or this agent before a restart) kept for
   * absent members (`status.retain_slots`) are kept for `member_slots_ttl` from now unless this
   * node saw the member itself, as Patroni does on taking the leader key; without this a restarted
   * agent would neither keep nor ever drop them.
   */
  private adoptRetained(): void {
    const { membersSeenAt, state, logger } = this.d;
    const retained = state.view?.status?.value.retain_slots;
    if (!Array.isArray(retained)) return;
    const known = new Set([...membersSeenAt.keys(), this.name].map(slotNameFor));
    const adopted = retained.filter((n): n is string => typeof n === 'string' && !known.has(n));
    const now = Date.now();
    for (const n of adopted) membersSeenAt.set(n, now);
    if (adopted.length > 0) logger.info(`keeping the replication slots of absent members that the status key retains: ${adopted.join(', ')}`);
  }

  private async permanentSlots(asLeader: boolean, keptMemberSlots: string[]): Promise<SlotStatus> {
    const { state, pg, logger } = this.d;
    const dynamic = state.dynamic;
    const view = state.view;
    const memberSlots = new Set([...(view?.members ?? []).map((m) => m.name), ...this.d.membersSeenAt.keys()].map(slotNameFor));
    const disabled = !dynamic.postgresql.useSlots || state.config.tags.nofailover;
    const { wanted, conflicts } = wantedPermanentSlots({
      permanent: dynamic.permanentSlots,
      me: slotNameFor(this.name),
      memberSlots,
      disabled,
      standbyCluster: dynamic.standbyCluster !== undefined,
    });
    if (conflicts.join() !== this.conflictsLogged) {
      this.conflictsLogged = conflicts.join();
      if (conflicts.length > 0)
        logger.warn(`permanent logical replication slots ignored: their names are the physical slots of cluster members: ${conflicts.join(', ')}`);
    }
    const status = view?.status?.value;
    const published = status?.slots ?? {};
    const retained = new Set(Array.isArray(status?.retain_slots) ? (status.retain_slots as unknown[]).map(String) : []);
    // What the leader published that is not a member's slot was a permanent one: it may be dropped once unwanted.
    const managed = new Set([...this.created, ...Object.keys(published).filter((n) => !retained.has(n) && !memberSlots.has(n))]);
    if (!asLeader && wanted.length === 0 && managed.size === 0) return {};
    const local = pg.localEndpoint();
    const existing = await withConnection(local, listSlots);
    const plan = permanentSlotPlan({
      wanted,
      existing,
      leader: asLeader,
      published,
      managed,
      ignore: dynamic.ignoreSlots,
      paused: view?.config?.value.pause === true,
    });
    const changed = await withConnection(local, (c) => this.applyPhysical(c, plan));
    if (asLeader) {
      this.startBackground(() => this.createLogical(local, plan));
      const kept = new Set([...keptMemberSlots, ...wanted.map((s) => s.name)]);
      const now = changed ? await withConnection(local, listSlots) : existing;
      const slots = publishedSlotPositions(now, kept);
      const retain = keptMemberSlots.filter((n) => !wanted.some((s) => s.name === n)).sort();
      return { ...(Object.keys(slots).length > 0 ? { slots } : {}), ...(retain.length > 0 ? { retain_slots: retain } : {}) };
    }
    this.startBackground(() => this.advance(local, plan.advance));
    const copy = plan.copy.filter((n) => Date.now() - (this.copiedAt.get(n) ?? 0) >= COPY_RETRY_MS);
    if (copy.length > 0) await this.copyFromLeader(copy);
    else
      await this.checkReadiness(
        wanted.map((s) => s.name),
        existing,
      );
    return {};
  }

  /** Drops and creates physical slots (and drops logical ones): quick, on the loop. True when something changed. */
  private async applyPhysical(client: Parameters<typeof listSlots>[0], plan: PermanentSlotPlan): Promise<boolean> {
    const { logger } = this.d;
    let changed = false;
    for (const name of plan.drop) {
      if (await dropInactiveSlot(client, name)) {
        logger.info(`dropped the replication slot ${name}: no longer a permanent slot, or its type, database or plugin changed`);
        this.created.delete(name);
        changed = true;
      }
    }
    for (const name of plan.createPhysical) {
      await createPhysicalSlot(client, name).then(
        () => {
          logger.info(`created the permanent physical replication slot ${name}`);
          this.created.add(name);
          changed = true;
        },
        (err) => logger.warn(`could not create the permanent physical replication slot ${name}: ${errMessage(err)}`),
      );
    }
    return changed;
  }

  private startBackground(job: () => Promise<void>): void {
    if (this.background) return;
    this.background = job()
      .catch((err) => this.d.logger.warn(`replication slots: ${errMessage(err)}`))
      .finally(() => (this.background = undefined));
  }

  /** On the leader, off the loop: creating a logical slot waits for the transactions running at that moment. */
  private async createLogical(local: PgEndpoint, plan: PermanentSlotPlan): Promise<void> {
    for (const slot of plan.createLogical) {
      const { database, plugin } = slot;
      if (database === undefined || plugin === undefined) continue;
      await withConnection({ ...local, database }, (c) => createLogicalSlot(c, slot.name, plugin)).then(
        () => {
          this.d.logger.info(`created the permanent logical replication slot ${slot.name} (database ${database}, plugin ${plugin})`);
          this.created.add(slot.name);
        },
        (err) => this.d.logger.error(`could not create the permanent logical replication slot ${slot.name}: ${errMessage(err)}`),
      );
    }
  }

  /** On a replica, off the loop: each slot to the leader's published position (Patroni's SlotsAdvanceThread). */
  private async advance(local: PgEndpoint, items: PermanentSlotPlan['advance']): Promise<void> {
    for (const item of items) {
      const endpoint = item.database === undefined ? local : { ...local, database: item.database };
      await withConnection(endpoint, (c) => advanceSlot(c, item.name, item.lsn)).catch(async (err: unknown) => {
        this.d.logger.error(`could not advance the replication slot ${item.name}: ${errMessage(err)}`);
        const code = sqlStateOf(err);
        // The WAL it needs is gone or the slot was invalidated: drop it, the next cycle copies it again.
        if (item.database !== undefined && code !== undefined && RECOPY_STATES.has(code)) {
          await withConnection(local, (c) => dropInactiveSlot(c, item.name)).catch(() => false);
        }
      });
    }
  }

  /** The leader's PostgreSQL as the rewind user (else the superuser): allowed to read its files. */
  private leaderEndpoint(): PgEndpoint | undefined {
    const { state } = this.d;
    const leader = serverOf(state.view?.leader?.name, this.name, state.view);
    const a = state.config.postgresql.authentication;
    const user = a.rewind ?? a.superuser;
    return leader && { host: leader.host, port: leader.port, user: user.username, password: user.password };
  }

  /** On a replica: which logical slot copies became safe to use after a failover (logged, as Patroni). */
  private async checkReadiness(wanted: string[], existing: LocalSlot[]): Promise<void> {
    const logical = existing.filter((s) => s.type === 'logical' && wanted.includes(s.name));
    if (!this.readiness) {
      this.readiness = new LogicalReadiness();
      for (const s of logical) this.readiness.add(s.name);
    }
    const readiness = this.readiness;
    const leader = this.leaderEndpoint();
    if (readiness.unsafe.length === 0 || !leader) return;
    const mine = slotNameFor(this.name);
    const xmins = await withConnection(leader, (c) => slotCatalogXmins(c, [mine, ...readiness.unremembered]));
    const physical = xmins.get(mine);
    if (physical === undefined) return;
    xmins.delete(mine);
    const leaderXmins = Object.fromEntries([...xmins].filter((e): e is [string, number] => e[1] !== null));
    const ready = readiness.observe(physical, leaderXmins, Object.fromEntries(logical.map((s) => [s.name, s.catalogXmin ?? undefined])));
    for (const name of ready) if (logical.some((s) => s.name === name)) this.d.logger.info(`logical slot ${name} is safe to be used after a failover`);
  }

  /** Before a promotion: names the copies not known safe yet (Patroni's warning). */
  warnUnsafe(): void {
    const unsafe = this.readiness?.unsafe ?? [];
    if (unsafe.length > 0) this.d.logger.warn(`logical replication slots that might be unsafe to use after promote: ${unsafe.join(', ')}`);
  }

  /**
   * On a replica: copies the state files of the leader's logical slots `names`, then restarts this
   * replica once so that it loads them (PostgreSQL 15 has no way to create a logical slot on a
   * standby; Patroni's `copy_logical_slots`).
   */
  private async copyFromLeader(names: string[]): Promise<void> {
    const { state, pg, logger } = this.d;
    const leader = this.leaderEndpoint();
    if (!leader) return;
    const files = await withConnection(leader, (c) => readSlotStateFiles(c, names));
    const wanted = new Map(state.dynamic.permanentSlots.map((s) => [s.name, s]));
    const usable = files.filter((f) => {
      const w = wanted.get(f.name);
      const ok = w?.type === 'logical' && w.database === f.database && w.plugin === f.plugin;
      if (!ok) logger.warn(`not copying the logical slot ${f.name}: the leader's (database ${f.database}, plugin ${f.plugin}) differs from the configuration`);
      return ok;
    });
    if (usable.length === 0) return;
    for (const f of usable) this.copiedAt.set(f.name, Date.now());
    logger.info(`copying the logical replication slots ${usable.map((f) => f.name).join(', ')} from the leader: restarting this replica to load them`);
    await this.d.restartReplicaAround(async () => {
      for (const f of usable) {
        await installSlotStateFile(pg.dataDir, f.name, f.state, pg.runAs);
        this.created.add(f.name);
        this.readiness?.add(f.name);
      }
    });
  }
}
