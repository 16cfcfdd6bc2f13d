import { describe, expect, it } from 'vitest';
import { ProblemLog } from '../src/problem-log.js';

const problem = (key: string, modRevision: number) => ({ key, reason: 'not JSON', raw: '{', modRevision });

describe('ProblemLog', () => {
  it('reports each bad value once, and again when the key gets a new bad value', () => {
    const log = new ProblemLog();
    expect(log.unseen([problem('/service/a/config', 5)])).toHaveLength(1);
    expect(log.unseen([problem('/service/a/config', 5)])).toEqual([]);
    expect(log.unseen([problem('/service/a/config', 6), problem('/service/a/config', 5)])).toEqual([problem('/service/a/config', 6)]);
  });
});
