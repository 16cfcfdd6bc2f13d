import { describe, expect, it } from 'vitest';
import { KvCache } from '../src/kv-cache.js';

describe('KvCache', () => {
  it('reports what changed on reset', () => {
    const cache = new KvCache();
    expect(cache.reset([{ key: 'a', value: '1', modRevision: 1 }], 1)).toEqual([{ key: 'a', oldValue: undefined, newValue: '1' }]);
    const changes = cache.reset(
      [
        { key: 'a', value: '1', modRevision: 1 },
        { key: 'b', value: '2', modRevision: 3 },
      ],
      3,
    );
    expect(changes).toEqual([{ key: 'b', oldValue: undefined, newValue: '2' }]);
    expect(cache.reset([], 4)).toEqual([
      { key: 'a', oldValue: '1', newValue: undefined },
      { key: 'b', oldValue: '2', newValue: undefined },
    ]);
    expect(cache.revision).toBe(4);
  });

  it('never rolls a key back with a stale or duplicated event', () => {
    const cache = new KvCache();
    cache.reset([{ key: 'k', value: 'v5', modRevision: 5 }], 5);
    expect(cache.put({ key: 'k', value: 'v4', modRevision: 4 })).toBeUndefined();
    expect(cache.put({ key: 'k', value: 'v5', modRevision: 5 })).toBeUndefined();
    expect(cache.put({ key: 'k', value: 'v6', modRevision: 6 })).toEqual({ key: 'k', oldValue: 'v5', newValue: 'v6' });
    // Same value at a later revision (a lease move): cached, but not a value change.
    expect(cache.put({ key: 'k', value: 'v6', modRevision: 7, lease: '9' })).toBeUndefined();
    expect(cache.get('k')).toEqual({ key: 'k', value: 'v6', modRevision: 7, lease: '9' });
    expect(cache.delete('k', 7)).toBeUndefined();
    expect(cache.delete('k', 8)).toEqual({ key: 'k', oldValue: 'v6', newValue: undefined });
    // A put that happened before the delete arrives late: the key stays deleted.
    expect(cache.put({ key: 'k', value: 'old', modRevision: 8 })).toBeUndefined();
    expect(cache.get('k')).toBeUndefined();
    expect(cache.put({ key: 'k', value: 'new', modRevision: 9 })).toEqual({ key: 'k', oldValue: undefined, newValue: 'new' });
    expect(cache.revision).toBe(9);
  });
});
