import type { RawKeyValue } from './parse-cluster-view.js';

/**
 * A change of one key's value, reported by `KvCache`. `undefined` means "absent".
 *
 * @example
 * ```ts
 * import type { KeyChange } from '@pgtools/dcs';
 * const created = (c: KeyChange): boolean => c.oldValue === undefined && c.newValue !== undefined;
 * ```
 */
export interface KeyChange {
  key: string;
  oldValue: string | undefined;
  newValue: string | undefined;
}

interface CachedKv {
  key: string;
  value: string;
  modRevision: number;
  lease?: string;
}

/**
 * The local copy of the cluster prefix: one range read, then watch events and our own successful
 * writes applied in revision order. Each key remembers its mod revision (and deleted keys the
 * revision of their deletion), so a late or duplicated event never rolls a key back.
 */
export class KvCache {
  private readonly entries = new Map<string, CachedKv>();
  private readonly deletedAt = new Map<string, number>();
  private rev = 0;

  get revision(): number {
    return this.rev;
  }

  /** Replaces the content with a fresh range read and returns what changed. */
  reset(kvs: readonly RawKeyValue[], revision: number): KeyChange[] {
    const before = new Map([...this.entries].map(([k, v]) => [k, v.value]));
    this.entries.clear();
    this.deletedAt.clear();
    for (const kv of kvs) {
      const entry: CachedKv = { key: kv.key, value: kv.value, modRevision: Number(kv.modRevision) };
      if (kv.lease !== undefined && kv.lease !== '0') entry.lease = kv.lease;
      this.entries.set(kv.key, entry);
    }
    this.rev = revision;
    const changes: KeyChange[] = [];
    for (const [key, oldValue] of before) {
      const newValue = this.entries.get(key)?.value;
      if (newValue !== oldValue) changes.push({ key, oldValue, newValue });
    }
    for (const [key, entry] of this.entries) if (!before.has(key)) changes.push({ key, oldValue: undefined, newValue: entry.value });
    return changes;
  }

  /** Applies a put at `kv.modRevision`; returns the change, or undefined when stale or same value. */
  put(kv: RawKeyValue): KeyChange | undefined {
    const modRevision = Number(kv.modRevision);
    this.bump(modRevision);
    const current = this.entries.get(kv.key);
    if (current && current.modRevision >= modRevision) return undefined;
    if ((this.deletedAt.get(kv.key) ?? 0) >= modRevision) return undefined;
    this.deletedAt.delete(kv.key);
    const entry: CachedKv = { key: kv.key, value: kv.value, modRevision };
    if (kv.lease !== undefined && kv.lease !== '0') entry.lease = kv.lease;
    this.entries.set(kv.key, entry);
    return current?.value === kv.value ? undefined : { key: kv.key, oldValue: current?.value, newValue: kv.value };
  }

  /** Applies a delete that happened at `revision`. */
  delete(key: string, revision: number): KeyChange | undefined {
    this.bump(revision);
    const current = this.entries.get(key);
    if (current && current.modRevision >= revision) return undefined;
    this.deletedAt.set(key, Math.max(revision, this.deletedAt.get(key) ?? 0));
    if (!current) return undefined;
    this.entries.delete(key);
    return { key, oldValue: current.value, newValue: undefined };
  }

  get(key: string): RawKeyValue | undefined {
    return this.entries.get(key);
  }

  snapshot(): RawKeyValue[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  private bump(revision: number): void {
    if (revision > this.rev) this.rev = revision;
  }
}
