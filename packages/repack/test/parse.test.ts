import { describe, expect, it } from 'vitest';
import { parseReplicaLag } from '../src/index.js';

describe('parseReplicaLag', () => {
  it('reads sizes and durations', () => {
    expect(parseReplicaLag('1048576')).toEqual({ bytes: 1048576 });
    expect(parseReplicaLag('16MB')).toEqual({ bytes: 16 * 1024 * 1024 });
    expect(parseReplicaLag('512kB')).toEqual({ bytes: 512 * 1024 });
    expect(parseReplicaLag('30s')).toEqual({ ms: 30_000 });
    expect(parseReplicaLag('500ms')).toEqual({ ms: 500 });
    expect(parseReplicaLag('2min')).toEqual({ ms: 120_000 });
    for (const bad of ['', 'fast', '-1MB', '10 parsecs']) expect(() => parseReplicaLag(bad)).toThrow(/max replica lag/);
  });
});
