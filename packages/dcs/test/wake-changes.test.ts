import { describe, expect, it } from 'vitest';
import { keyLayout } from '../src/key-layout.js';
import { isWakeChange } from '../src/wake-changes.js';

const layout = keyLayout('service', 'demo');
const change = (key: string, oldValue?: string, newValue?: string) => ({ key, oldValue, newValue });
const member = (start: string) => JSON.stringify({ role: 'primary', postmaster_start_time: start });

describe('isWakeChange', () => {
  it.each([
    ['leader, failover and config always wake', change(layout.leader, 'a', 'b'), 'n1', 'n2', true],
    ['failover', change(layout.failover, undefined, '{}'), 'n1', 'n1', true],
    ['config', change(layout.config, '{}', '{"ttl":20}'), 'n1', undefined, true],
    ['status wakes a replica', change(layout.status, '{}', '{"optime":1}'), 'n1', 'n2', true],
    ['status does not wake the leader that wrote it', change(layout.status, '{}', '{"optime":1}'), 'n1', 'n1', false],
    ['a deleted status wakes nobody', change(layout.status, '{}', undefined), 'n1', 'n2', false],
    ["the leader's restart in place wakes its replicas", change(layout.member('n2'), member('10:00'), member('10:05')), 'n1', 'n2', true],
    ["the leader's member key without a restart does not", change(layout.member('n2'), member('10:00'), member('10:00')), 'n1', 'n2', false],
    ["another replica's restart does not", change(layout.member('n3'), member('10:00'), member('10:05')), 'n1', 'n2', false],
    ['a hostile leader value never matches a key it does not name', change(layout.member('n2'), member('1'), member('2')), 'n1', '../n2', false],
  ])('%s', (_title, c, self, leader, expected) => {
    expect(isWakeChange(layout, self, c, leader)).toBe(expected);
  });
});
