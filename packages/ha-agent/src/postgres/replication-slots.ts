import type pg from 'pg';

/**
 * The physical slot name of a member, as Patroni derives it: lowercased, every character that is
 * not `a-z0-9_` replaced by `_`.
 *
 * @example
 * ```ts
 * import { slotNameFor } from '@pgtools/ha-agent/internals';
 * slotNameFor('Node-2.dc1'); // 'node_2_dc1'
 * ```
 */
export function slotNameFor(member: string): string {
  return member
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
}

/**
 * On the leader: creates a physical slot (WAL reserved at once) for each member that lacks one.
 * Slots of members that went away are kept (the agent drops them with `dropSlots` only after a
 * long absence): dropping them as soon as a member key expires (Patroni 3.0.2) loses the WAL a
 * briefly absent replica needs. Returns the names created.
 *
 * @example
 * ```ts
 * import { ensureSlots, withConnection } from '@pgtools/ha-agent/internals';
 * await withConnection(local, (c) => ensureSlots(c, ['node2', 'node3']));
 * ```
 */
export async function ensureSlots(client: pg.Client, members: string[]): Promise<string[]> {
  const wanted = [...new Set(members.map(slotNameFor))];
  if (wanted.length === 0) return [];
  const existing = await client.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name = ANY($1::text[])`,
    [wanted],
  );
  const have = new Set(existing.rows.map((r) => r.slot_name));
  const created: string[] = [];
  for (const name of wanted) {
    if (have.has(name)) continue;
    await client.query('SELECT pg_create_physical_replication_slot($1, true)', [name]);
    created.push(name);
  }
  return created;
}

/**
 * On the leader: drops the physical slots of `members` that no walsender uses (members gone for
 * good must not hold WAL forever). Returns the names dropped.
 *
 * @example
 * ```ts
 * import { dropSlots, withConnection } from '@pgtools/ha-agent/internals';
 * await withConnection(local, (c) => dropSlots(c, ['node4']));
 * ```
 */
export async function dropSlots(client: pg.Client, members: string[]): Promise<string[]> {
  const names = [...new Set(members.map(slotNameFor))];
  if (names.length === 0) return [];
  const res = await client.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots
      WHERE slot_type = 'physical' AND NOT active AND slot_name = ANY($1::text[])`,
    [names],
  );
  const dropped: string[] = [];
  for (const { slot_name } of res.rows) {
    // A walsender may have attached since the query: then the drop fails and the slot stays.
    if (
      await client.query('SELECT pg_drop_replication_slot($1)', [slot_name]).then(
        () => true,
        () => false,
      )
    )
      dropped.push(slot_name);
  }
  return dropped;
}
