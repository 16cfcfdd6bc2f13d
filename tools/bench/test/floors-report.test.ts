import { describe, expect, it } from 'vitest';
import { FLOOR_STEPS, floorLoadLevels, renderFloors, type FloorSample, type LoadFloorSample } from '../src/floors.js';
import { parseBenchArgs } from '../src/options.js';

const samples = (...ms: number[]): FloorSample[] => ms.map((x) => ({ ms: x, cores: 1 }));

describe('renderFloors', () => {
  it('reports medians with their spread, both schedules summed from their own steps, and the unthrottled share', () => {
    const work = new Map<string, FloorSample[]>([
      [FLOOR_STEPS.ctas, samples(600, 580, 610)],
      [FLOOR_STEPS.insert, samples(780, 760, 800)],
      [FLOOR_STEPS.hints, samples(80, 90, 80)],
      [
        FLOOR_STEPS.pgtoolsBuilds,
        [
          { ms: 680, cores: 1.9 },
          { ms: 700, cores: 1.9 },
          { ms: 670, cores: 1.9 },
        ],
      ],
      [FLOOR_STEPS.serialBuilds, samples(940, 870, 950)],
      [FLOOR_STEPS.analyze, samples(160, 150, 180)],
    ]);
    const load: LoadFloorSample[] = [
      { level: '400 tps', capture: false, tps: 405, cores: 0.3 },
      { level: '400 tps', capture: true, tps: 406, cores: 0.34, logRows: 1200 },
      { level: 'unthrottled', capture: false, tps: 6400, cores: 2 },
      { level: 'unthrottled', capture: true, tps: 4608, cores: 2, logRows: 40_000, clientsLost: 1 },
    ];
    const md = renderFloors({
      command: 'pnpm bench:repack --floors',
      date: '2026-11-26T00:00:00.000Z',
      machine: { cpuModel: 'test CPU', nproc: '2' },
      version: 'PostgreSQL 15',
      rows: 2_000_000,
      runs: 3,
      windowS: 5,
      liveRows: 1_000_000,
      work,
      load,
    });
    expect(md).toContain(`| ${FLOOR_STEPS.ctas} | 0.60 (0.58–0.61) | 1.00 | 0.60 |`);
    expect(md).toContain(`| ${FLOOR_STEPS.pgtoolsBuilds} | 0.68 (0.67–0.70) | 1.90 | 1.29 |`);
    // pgtools: 0.60 + 0.08 + 0.68 + 0.16; pg_repack: 0.78 + 0.08 + 0.94 + 0.16.
    expect(md).toContain('**1.52 s**');
    expect(md).toContain('**1.96 s**');
    // The share only where the load is unthrottled; a lost client is said next to its figure.
    expect(md).toContain('| 400 tps | yes | 406 | 0.34 |');
    expect(md).toContain('| unthrottled | yes | 4608 (72%); 1 client(s) aborted | 2.00 |');
    expect(md).toContain('1000000 live rows of 2000000 inserted');
  });

  it('runs the fixed rate, the heavy load and unthrottled, and the heavy load once under --heavy', () => {
    expect(floorLoadLevels(parseBenchArgs(['--floors'])).map((l) => [l.level, l.tps, l.clients])).toEqual([
      ['400 tps', 400, 8],
      ['2000 tps (heavy, 16 clients)', 2000, 16],
      ['unthrottled', undefined, 8],
    ]);
    expect(floorLoadLevels(parseBenchArgs(['--floors', '--heavy'])).map((l) => l.level)).toEqual(['2000 tps (heavy, 16 clients)', 'unthrottled']);
  });
});
