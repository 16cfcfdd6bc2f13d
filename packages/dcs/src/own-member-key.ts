import { jsonEqual } from './deep-equal.js';
import type { RawKeyValue } from './parse-cluster-view.js';

interface Known {
  value: string | undefined;
  lease: string | undefined;
  revision: number;
}

/**
 * What we last knew of our own member key, so `touchMember` skips writes that change nothing.
 * Compared with the freshest knowledge: the watched cache, else the last range read or write,
 * whichever is newer (like Patroni, which compares with its last cluster view).
 */
export class OwnMemberKey {
  private known: Known | undefined;

  /** Records the key as read or written at `revision` (an older revision never replaces a newer). */
  remember(value: string | undefined, lease: string | undefined, revision: number): void {
    if (this.known && this.known.revision > revision) return;
    this.known = { value, lease: lease === '0' ? undefined : lease, revision };
  }

  /**
   * True when the key holds `json` (compared as JSON) on `lease`. `watched` is the key in the
   * watch's cache and the cache's revision, when a watch is live.
   */
  upToDate(json: string, lease: string, watched: { entry: RawKeyValue | undefined; revision: number } | undefined): boolean {
    const known =
      watched && (this.known === undefined || watched.revision >= this.known.revision)
        ? { value: watched.entry?.value, lease: watched.entry?.lease }
        : this.known;
    if (!known || known.value === undefined || known.lease !== lease) return false;
    try {
      return jsonEqual(JSON.parse(known.value), JSON.parse(json));
    } catch {
      // A value we cannot read is rewritten.
      return false;
    }
  }
}
