import { describe, expect, it } from 'vitest';
import {
  decide,
  formatSsn,
  namesForSyncKey,
  planQuorumStep,
  quorumSafe,
  quorumStricter,
  quorumTarget,
  quorumVotes,
  type DecisionInput,
  type PeerProbe,
  type QuorumPlanInput,
  type QuorumStep,
} from '../src/internals.js';
import { down as gone, replicaProbe as at } from './peer-probes.js';

const ABC = ['node2', 'node3', 'node4'];

describe('quorumSafe: any quorum + 1 voters overlap any num names', () => {
  it.each([
    { key: { voters: ABC, quorum: 2 }, ssn: { names: ABC, num: 1 }, safe: true },
    { key: { voters: ABC, quorum: 1 }, ssn: { names: ABC, num: 2 }, safe: true },
    { key: { voters: ABC, quorum: 1 }, ssn: { names: ABC, num: 1 }, safe: false },
    { key: { voters: ABC, quorum: 0 }, ssn: { names: ABC, num: 2 }, safe: false },
    { key: { voters: ABC, quorum: 0 }, ssn: { names: ABC, num: 3 }, safe: true },
    // Priority mode (quorum 0): every voter must be a name every commit waits for.
    { key: { voters: ['node2'], quorum: 0 }, ssn: { names: ['node2', 'node3'], num: 2 }, safe: true },
    { key: { voters: ['node4'], quorum: 0 }, ssn: { names: ['node2', 'node3'], num: 2 }, safe: false },
    // No voter: nobody can gather votes, nothing can be lost.
    { key: { voters: [], quorum: 0 }, ssn: { names: [], num: 0 }, safe: true },
    // Commits not waiting for anyone while voters may promote: unsafe.
    { key: { voters: ['node2'], quorum: 0 }, ssn: { names: [], num: 0 }, safe: false },
    // Names outside the voters count against the overlap.
    { key: { voters: ['node2', 'node3'], quorum: 1 }, ssn: { names: ABC, num: 1 }, safe: false },
    { key: { voters: ABC, quorum: 2 }, ssn: { names: ['node2', 'node3'], num: 1 }, safe: true },
  ])('$key.voters q=$key.quorum vs ANY $ssn.num $ssn.names: $safe', ({ key, ssn, safe }) => {
    expect(quorumSafe(key, ssn)).toBe(safe);
  });

  it('quorumStricter: voters added raise the quorum by as many', () => {
    expect(quorumStricter({ voters: ['node2'], quorum: 0 }, { voters: ABC, quorum: 2 })).toBe(true);
    expect(quorumStricter({ voters: ['node2'], quorum: 0 }, { voters: ABC, quorum: 1 })).toBe(false);
    expect(quorumStricter({ voters: ABC, quorum: 1 }, { voters: ABC, quorum: 2 })).toBe(true);
    expect(quorumStricter({ voters: ABC, quorum: 2 }, { voters: ['node2', 'node3'], quorum: 1 })).toBe(false);
  });
});

describe('quorumTarget (Patroni: sync = voters = active, numsync = min(k, active), quorum = active - numsync)', () => {
  it.each([
    { quorumMode: true, nodeCount: 1, active: ABC, key: { voters: ABC, quorum: 2 }, ssn: { names: ABC, num: 1 } },
    { quorumMode: true, nodeCount: 2, active: ABC, key: { voters: ABC, quorum: 1 }, ssn: { names: ABC, num: 2 } },
    { quorumMode: true, nodeCount: 2, active: ['node2'], key: { voters: ['node2'], quorum: 0 }, ssn: { names: ['node2'], num: 1 } },
    { quorumMode: true, nodeCount: 2, active: [], key: { voters: [], quorum: 0 }, ssn: { names: [], num: 0 } },
    // Priority mode: the best k, all waited for.
    {
      quorumMode: false,
      nodeCount: 2,
      active: ['node4', 'node2', 'node3'],
      key: { voters: ['node2', 'node4'], quorum: 0 },
      ssn: { names: ['node2', 'node4'], num: 2 },
    },
  ])('quorum=$quorumMode k=$nodeCount active=$active', ({ key, ssn, ...input }) => {
    expect(quorumTarget(input)).toEqual({ key, ssn });
  });
});

/** Runs the plan to its end, each write applied and (when `confirm`) the new names confirmed at once. */
function run(input: QuorumPlanInput, confirm = true): QuorumStep[] {
  const steps: QuorumStep[] = [];
  let state = { ...input };
  for (let i = 0; i < 10; i++) {
    const step = planQuorumStep(state);
    steps.push(step);
    if (step.kind === 'none') {
      if (step.waiting && confirm && !state.confirmed) {
        state = { ...state, confirmed: true, pending: [] };
        continue;
      }
      return steps;
    }
    if (step.kind === 'key') state = { ...state, key: step.key };
    else
      state = {
        ...state,
        ssn: step.ssn,
        pending: state.confirmed ? [state.ssn] : state.pending && [...state.pending, state.ssn],
        confirmed: step.ssn.num === 0,
      };
    // Every state the plan passes through keeps the invariant, for the names still counting too.
    expect(quorumSafe(state.key, state.ssn)).toBe(true);
    for (const old of state.pending ?? []) expect(quorumSafe(state.key, old)).toBe(true);
  }
  throw new Error('plan did not settle');
}

const base: QuorumPlanInput = {
  quorumMode: true,
  nodeCount: 1,
  active: ABC,
  key: { voters: [], quorum: 0 },
  ssn: { names: [], num: 0 },
  confirmed: true,
  pending: [],
};

describe('planQuorumStep: one safe write at a time, in Patroni order', () => {
  const cases: Array<{ name: string; input: QuorumPlanInput; steps: QuorumStep[] }> = [
    {
      name: 'start, k=1: names first (commits wait), the key once they caught up',
      input: base,
      steps: [
        { kind: 'ssn', ssn: { names: ABC, num: 1 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ABC, quorum: 2 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'k 1 -> 2 (more nodes per commit): synchronous_standby_names first, the key after it is confirmed',
      input: { ...base, nodeCount: 2, key: { voters: ABC, quorum: 2 }, ssn: { names: ABC, num: 1 } },
      steps: [
        { kind: 'ssn', ssn: { names: ABC, num: 2 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ABC, quorum: 1 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'k 2 -> 1 (fewer nodes per commit): the key first',
      input: { ...base, nodeCount: 1, key: { voters: ABC, quorum: 1 }, ssn: { names: ABC, num: 2 } },
      steps: [
        { kind: 'key', key: { voters: ABC, quorum: 2 } },
        { kind: 'ssn', ssn: { names: ABC, num: 1 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'k=1, a voter is gone: names shrink first, the key once the rest caught up',
      input: { ...base, active: ['node2', 'node3'], key: { voters: ABC, quorum: 2 }, ssn: { names: ABC, num: 1 } },
      steps: [
        { kind: 'ssn', ssn: { names: ['node2', 'node3'], num: 1 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ['node2', 'node3'], quorum: 1 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'k=2, a voter is gone: commits go on with 2 of the rest; the key follows',
      input: { ...base, nodeCount: 2, active: ['node2', 'node3'], key: { voters: ABC, quorum: 1 }, ssn: { names: ABC, num: 2 } },
      steps: [
        { kind: 'ssn', ssn: { names: ['node2', 'node3'], num: 2 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ['node2', 'node3'], quorum: 0 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'a voter swapped for a new member: a key covering both goes first',
      input: { ...base, active: ['node2', 'node5'], key: { voters: ['node2', 'node3'], quorum: 1 }, ssn: { names: ['node2', 'node3'], num: 1 } },
      steps: [
        { kind: 'key', key: { voters: ['node2', 'node3', 'node5'], quorum: 2 } },
        { kind: 'ssn', ssn: { names: ['node2', 'node5'], num: 1 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ['node2', 'node5'], quorum: 1 } },
        { kind: 'none', waiting: false },
      ],
    },
    {
      name: 'priority mode k=2, a standby gone: the key drops it before the names do',
      input: {
        ...base,
        quorumMode: false,
        nodeCount: 2,
        active: ['node2', 'node4'],
        key: { voters: ['node2', 'node3'], quorum: 0 },
        ssn: { names: ['node2', 'node3'], num: 2 },
      },
      steps: [
        { kind: 'key', key: { voters: ['node2'], quorum: 0 } },
        { kind: 'ssn', ssn: { names: ['node2', 'node4'], num: 2 } },
        { kind: 'none', waiting: true },
        { kind: 'key', key: { voters: ['node2', 'node4'], quorum: 0 } },
        { kind: 'none', waiting: false },
      ],
    },
  ];
  it.each(cases)('$name', ({ input, steps }) => {
    expect(run(input)).toEqual(steps);
  });

  it('unknown history (agent restarted): only a stricter key until the names are confirmed', () => {
    const input = { ...base, active: ['node2', 'node3'], key: { voters: ABC, quorum: 2 }, ssn: { names: ABC, num: 1 }, confirmed: false, pending: undefined };
    // Dropping node4 from the names is safe against this key; the looser key must wait.
    expect(planQuorumStep(input)).toEqual({ kind: 'ssn', ssn: { names: ['node2', 'node3'], num: 1 } });
    expect(planQuorumStep({ ...input, ssn: { names: ['node2', 'node3'], num: 1 } })).toEqual({ kind: 'none', waiting: true });
  });

  it('unconfirmed names: the key waits', () => {
    const input = { ...base, key: { voters: [], quorum: 0 }, ssn: { names: ABC, num: 1 }, confirmed: false, pending: [{ names: [], num: 0 }] };
    expect(planQuorumStep(input)).toEqual({ kind: 'none', waiting: true });
  });
});

describe('synchronous_standby_names text', () => {
  it.each([
    [{ names: ['node3', 'node2'], num: 1 }, true, false, 'ANY 1 ("node2","node3")'],
    [{ names: ['node2'], num: 1 }, true, false, 'ANY 1 ("node2")'],
    [{ names: ['node2', 'node3'], num: 2 }, false, false, '2 ("node2","node3")'],
    [{ names: ['node2'], num: 1 }, false, false, '"node2"'],
    [{ names: [], num: 0 }, true, true, '*'],
    [{ names: [], num: 0 }, true, false, ''],
  ] as const)('%j quorum=%s strict=%s -> %s', (ssn, quorumMode, strict, text) => {
    expect(formatSsn({ names: [...ssn.names], num: ssn.num }, quorumMode, strict)).toBe(text);
  });

  it('a leader restarted in place waits as its key promises', () => {
    const dyn = { synchronousQuorum: true, synchronousNodeCount: 1, synchronousModeStrict: false };
    expect(namesForSyncKey(dyn, { leader: 'node1', sync_standby: 'node2,node3,node4', quorum: 2 })).toBe('ANY 1 ("node2","node3","node4")');
    expect(namesForSyncKey({ ...dyn, synchronousQuorum: false, synchronousNodeCount: 2 }, { leader: 'node1', sync_standby: 'node2,node3' })).toBe(
      '2 ("node2","node3")',
    );
    expect(namesForSyncKey({ ...dyn, synchronousQuorum: false }, { leader: 'node1', sync_standby: 'node2' })).toBe('"node2"');
  });
});

// --- promotion: the quorum votes (Patroni's _is_healthiest_node in quorum mode) ---

const MB = 1024 * 1024;
const NOW = Date.parse('2024-05-01T12:00:00Z');

/** node2 races with no leader key; the sync key says leader node1, voters node2..node4, `quorum`. */
function raceAs(name: string, quorum: number, voters: string[], probes: PeerProbe[] | undefined, myWal = 100 * MB): DecisionInput {
  const names = ['node1', 'node2', 'node3', 'node4', 'node5'];
  const input: DecisionInput = {
    cluster: {
      members: names.map((n) => ({ name: n, role: 'replica', state: 'running', apiUrl: `http://127.0.0.1:800${n.slice(4)}/patroni` })),
      initialize: '7364003399928373256',
      optime: 100 * MB,
      sync: { leader: 'node1', syncStandbys: voters, quorum },
    },
    local: {
      postgresRunning: true,
      role: 'replica',
      receivedLsn: myWal,
      replayedLsn: myWal,
      dataDirEmpty: false,
      systemId: '7364003399928373256',
      timeline: 1,
    },
    config: { name, ttl: 30, loopWait: 10, maximumLagOnFailover: MB, primaryStartTimeout: 300, synchronousMode: true, synchronousQuorum: true, tags: {} },
    paused: false,
    dcsReachable: true,
    now: NOW,
  };
  if (probes) input.peerProbes = probes;
  return input;
}

describe('promotion in quorum mode: only a member surely holding the last acknowledged commit', () => {
  const cases: Array<{ name: string; input: DecisionInput; kind: string; message?: RegExp }> = [
    {
      name: 'k=1 (quorum 2): a voter with 2 other voters not ahead wins',
      input: raceAs('node2', 2, ABC, [gone('node1'), at('node3', 100 * MB), at('node4', 90 * MB), at('node5', 50 * MB)]),
      kind: 'acquire_leader_and_promote',
    },
    {
      name: 'k=1 (quorum 2): one voter unreachable -> not sure (it may be the only one with the commit)',
      input: raceAs('node2', 2, ABC, [gone('node1'), at('node3', 100 * MB), gone('node4'), at('node5', 50 * MB)]),
      kind: 'follow',
      message: /Quorum requirement 2 can not be reached: 1 of node1, node3, node4/,
    },
    {
      name: 'k=2 (quorum 1): one voter unreachable is fine',
      input: raceAs('node2', 1, ABC, [gone('node1'), at('node3', 100 * MB), gone('node4')]),
      kind: 'acquire_leader_and_promote',
    },
    {
      name: 'a voter ahead wins instead',
      input: raceAs('node2', 1, ABC, [gone('node1'), at('node3', 120 * MB), at('node4', 100 * MB)]),
      kind: 'follow',
      message: /Wal position of node3 is ahead/,
    },
    {
      name: 'a non-voter needs quorum + 1 votes: 2 of 3 is not enough with quorum 2',
      input: raceAs('node5', 2, ABC, [gone('node1'), at('node2', 100 * MB), at('node3', 100 * MB), gone('node4')]),
      kind: 'follow',
      message: /Quorum requirement 3 can not be reached/,
    },
    {
      name: 'a non-voter with quorum + 1 votes may win (Patroni: it has what one of them acknowledged)',
      input: raceAs('node5', 1, ABC, [gone('node1'), at('node2', 100 * MB), at('node3', 100 * MB), gone('node4')]),
      kind: 'acquire_leader_and_promote',
    },
    {
      name: 'a voter with nofailover does not vote (Patroni: failover_limitation)',
      input: raceAs('node2', 1, ABC, [gone('node1'), at('node3', 100 * MB, { nofailover: true }), gone('node4')]),
      kind: 'follow',
      message: /Quorum requirement 1 can not be reached/,
    },
    {
      name: 'no voters yet (the leader had no synchronous standby): nobody but the former leader',
      input: raceAs('node2', 0, [], [gone('node1'), at('node3', 100 * MB)]),
      kind: 'follow',
    },
    {
      name: 'the race asks the members first',
      input: raceAs('node2', 2, ABC, undefined),
      kind: 'probe_members',
    },
  ];
  it.each(cases)('$name', ({ input, kind, message }) => {
    const action = decide(input);
    expect(action.kind).toBe(kind);
    if (message) expect(action.message).toMatch(message);
  });

  it('a manual failover candidate needs the votes too', () => {
    const input = raceAs('node2', 2, ABC, [gone('node1'), at('node3', 100 * MB), gone('node4')]);
    input.cluster.failover = { candidate: 'node2' };
    expect(decide(input).kind).toBe('follow');
    input.peerProbes = [gone('node1'), at('node3', 100 * MB), at('node4', 100 * MB)];
    expect(decide(input).kind).toBe('acquire_leader_and_promote');
    delete input.peerProbes;
    expect(decide(input).kind).toBe('probe_members');
  });

  it('quorumVotes is undefined outside quorum mode, unless the key still carries a quorum (mode just switched)', () => {
    const input = raceAs('node2', 0, ABC, []);
    input.config.synchronousQuorum = false;
    expect(quorumVotes(input)).toBeUndefined();
    const switched = raceAs('node2', 2, ABC, [gone('node1'), at('node3', 100 * MB), gone('node4')]);
    switched.config.synchronousQuorum = false;
    expect(quorumVotes(switched)).toMatchObject({ ok: false, votes: 1, needed: 2 });
    expect(decide(switched).kind).toBe('follow');
  });
});
