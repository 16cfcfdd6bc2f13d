import { describe, expect, it } from 'vitest';
import { keyLayout } from '../src/index.js';

describe('keyLayout', () => {
  it('uses namespace "service" by default, like Patroni', () => {
    const keys = keyLayout(undefined, 'demo');
    expect(keys).toMatchObject({
      prefix: '/service/demo/',
      leader: '/service/demo/leader',
      members: '/service/demo/members/',
      config: '/service/demo/config',
      initialize: '/service/demo/initialize',
      status: '/service/demo/status',
      failover: '/service/demo/failover',
      sync: '/service/demo/sync',
      history: '/service/demo/history',
      failsafe: '/service/demo/failsafe',
      leaderOptime: '/service/demo/optime/leader',
    });
    expect(keys.member('node1')).toBe('/service/demo/members/node1');
  });

  it('collapses slashes of a namespace written with leading or trailing slashes', () => {
    expect(keyLayout('/ns/', 'c').leader).toBe('/ns/c/leader');
    expect(keyLayout('ns', 'c').prefix).toBe('/ns/c/');
    expect(keyLayout('//a//b', 'c').config).toBe('/a/b/c/config');
  });

  it('rejects a scope or member name that would escape the layout', () => {
    expect(() => keyLayout('service', '')).toThrow(RangeError);
    expect(() => keyLayout('service', 'a/b')).toThrow(RangeError);
    expect(() => keyLayout('service', 'a').member('x/y')).toThrow(RangeError);
    expect(() => keyLayout('service', 'a').member('')).toThrow(RangeError);
  });
});
