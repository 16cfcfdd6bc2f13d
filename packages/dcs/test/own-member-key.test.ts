import { describe, expect, it } from 'vitest';
import { OwnMemberKey } from '../src/own-member-key.js';

const json = '{"state":"running","role":"replica"}';

describe('OwnMemberKey', () => {
  it('knows nothing at first: the first touch writes', () => {
    expect(new OwnMemberKey().upToDate(json, '7', undefined)).toBe(false);
  });

  it('is up to date when the last write holds the same JSON on the same lease', () => {
    const own = new OwnMemberKey();
    own.remember('{"role":"replica","state":"running"}', '7', 10);
    expect(own.upToDate(json, '7', undefined)).toBe(true);
    expect(own.upToDate(json, '8', undefined)).toBe(false);
    expect(own.upToDate('{"state":"stopped","role":"replica"}', '7', undefined)).toBe(false);
  });

  it('never lets an older read replace a newer write', () => {
    const own = new OwnMemberKey();
    own.remember(json, '7', 10);
    own.remember(undefined, undefined, 9);
    expect(own.upToDate(json, '7', undefined)).toBe(true);
  });

  it('trusts the watched cache when it is as new as what it wrote, else its own write', () => {
    const own = new OwnMemberKey();
    own.remember(json, '7', 10);
    // The watch saw the key deleted (expired lease) after our write: write again.
    expect(own.upToDate(json, '7', { entry: undefined, revision: 11 })).toBe(false);
    // The watch is behind our write: our write is the newer knowledge.
    expect(own.upToDate(json, '7', { entry: undefined, revision: 9 })).toBe(true);
  });

  it('treats lease 0 as no lease and an unreadable value as out of date', () => {
    const own = new OwnMemberKey();
    own.remember(json, '0', 10);
    expect(own.upToDate(json, '0', undefined)).toBe(false);
    own.remember('{not json', '7', 11);
    expect(own.upToDate(json, '7', undefined)).toBe(false);
  });
});
