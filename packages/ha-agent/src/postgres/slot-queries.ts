import { chmod, chown, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { RunAs } from './run-binary.js';

/** A row of pg_replication_slots (temporary slots left out), LSNs as bytes. */
export interface LocalSlot {
  name: string;
  type: 'physical' | 'logical';
  database: string | null;
  plugin: string | null;
  active: boolean;
  /** Physical slots: `restart_lsn`; 0 when none is reserved. */
  restartLsn: number;
  /** Logical slots: `confirmed_flush_lsn`. */
  confirmedFlushLsn: number;
  /** Logical slots: `catalog_xmin` (null when none). */
  catalogXmin: number | null;
}

/**
 * The non-temporary slots of the server `client` is connected to, LSNs as bytes (as Patroni
 * publishes them in `status.slots`).
 *
 * @example
 * ```ts
 * import { listSlots, withConnection } from '@pgtools/ha-agent/internals';
 * await withConnection(local, listSlots); // [{ name: 'node2', type: 'physical', restartLsn: 50331968, ... }]
 * ```
 */
export async function listSlots(client: pg.Client): Promise<LocalSlot[]> {
  const res = await client.query<{
    slot_name: string;
    slot_type: string;
    database: string | null;
    plugin: string | null;
    active: boolean;
    r: string | null;
    c: string | null;
    x: string | null;
  }>(
    `SELECT slot_name, slot_type, database, plugin, active,
            pg_wal_lsn_diff(restart_lsn, '0/0')::bigint AS r, pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint AS c,
            catalog_xmin::text::bigint AS x
       FROM pg_replication_slots WHERE NOT temporary`,
  );
  return res.rows.map((r) => ({
    name: r.slot_name,
    type: r.slot_type === 'logical' ? 'logical' : 'physical',
    database: r.database,
    plugin: r.plugin,
    active: r.active,
    restartLsn: Number(r.r ?? 0),
    confirmedFlushLsn: Number(r.c ?? 0),
    catalogXmin: r.x === null ? null : Number(r.x),
  }));
}

/** Creates a physical slot reserving WAL at once, unless one of that name exists. */
export async function createPhysicalSlot(client: pg.Client, name: string): Promise<void> {
  await client.query(
    `SELECT pg_create_physical_replication_slot($1, true)
      WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name = $1)`,
    [name],
  );
}

/** On a primary connected to the slot's database: creates a logical slot, unless one of that name exists. */
export async function createLogicalSlot(client: pg.Client, name: string, plugin: string): Promise<void> {
  await client.query(
    `SELECT pg_create_logical_replication_slot($1, $2)
      WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name = $1)`,
    [name, plugin],
  );
}

/** Moves a slot forward to `lsn` (bytes); on a standby PostgreSQL stops at what it has replayed. */
export async function advanceSlot(client: pg.Client, name: string, lsn: number): Promise<void> {
  await client.query(`SELECT pg_replication_slot_advance($1, '0/0'::pg_lsn + $2::numeric)`, [name, String(lsn)]);
}

/** Drops the slot unless a walsender uses it. True when it was dropped; false also when a walsender attached meanwhile (the drop fails, the slot stays). */
export async function dropInactiveSlot(client: pg.Client, name: string): Promise<boolean> {
  return client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [name]).then(
    (res) => res.rows.length > 0,
    () => false,
  );
}

/** A logical slot as read from the primary, with its on-disk state file. */
export interface SlotStateFile {
  name: string;
  database: string;
  plugin: string;
  state: Buffer;
}

/**
 * On the primary (as a superuser or a user allowed pg_read_binary_file): the `pg_replslot/<name>/state`
 * file of each logical slot in `names` (Patroni's `copy_logical_slots`).
 */
export async function readSlotStateFiles(client: pg.Client, names: string[]): Promise<SlotStateFile[]> {
  const res = await client.query<{ slot_name: string; datname: string; plugin: string; state: Buffer }>(
    `SELECT slot_name, datname, plugin, pg_read_binary_file('pg_replslot/' || slot_name || '/state') AS state
       FROM pg_get_replication_slots() JOIN pg_database ON datoid = pg_database.oid
      WHERE NOT pg_is_in_recovery() AND slot_type = 'logical' AND slot_name = ANY($1::text[])`,
    [names],
  );
  return res.rows.map((r) => ({ name: r.slot_name, database: r.datname, plugin: r.plugin, state: r.state }));
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * With PostgreSQL stopped: installs a slot's state file as `pg_replslot/<name>/state` (written to
 * `<name>.tmp`, fsynced, renamed over any older copy), so the server loads the slot at its next
 * start. PostgreSQL 15 cannot create a logical slot on a standby; this is how Patroni gives one.
 */
export async function installSlotStateFile(dataDir: string, name: string, state: Buffer, runAs: RunAs | undefined): Promise<void> {
  const base = join(dataDir, 'pg_replslot');
  const dir = join(base, name);
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { mode: 0o700 });
  const file = join(tmp, 'state');
  const fh = await open(file, 'w', 0o600);
  try {
    await fh.writeFile(state);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (runAs) {
    await chown(tmp, runAs.uid, runAs.gid);
    await chown(file, runAs.uid, runAs.gid);
  }
  await chmod(tmp, 0o700);
  await fsyncPath(tmp);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  await fsyncPath(dir);
  await fsyncPath(base);
}

/**
 * On the primary: the `catalog_xmin` of each slot in `names` (xids as numbers, null when none);
 * nothing from a server in recovery.
 */
export async function slotCatalogXmins(client: pg.Client, names: string[]): Promise<Map<string, number | null>> {
  const res = await client.query<{ slot_name: string; x: string | null }>(
    `SELECT slot_name, catalog_xmin::text::bigint AS x FROM pg_get_replication_slots()
      WHERE NOT pg_is_in_recovery() AND slot_name = ANY($1::text[])`,
    [names],
  );
  return new Map(res.rows.map((r) => [r.slot_name, r.x === null ? null : Number(r.x)]));
}
