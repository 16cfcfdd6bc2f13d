import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareStartup, forwarder, timeStartup } from '../src/startup.js';

// A real TCP server stands in for PostgreSQL: the bench only times the connection.
let target: { host: string; port: number };
const server = createServer((s) => s.end());
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const connectArgs = (port: number, thenExit: boolean): string[] => [
  '-e',
  `require('net').connect(${port}, '127.0.0.1').on('connect', () => ${thenExit ? 'process.exit(0)' : 'setInterval(() => {}, 1000)'})`,
];

describe('start-up bench: spawn to first connection', () => {
  it('times each command, interleaved, first connection before exit', async () => {
    const rows = await compareStartup(
      [
        { name: 'exits', command: process.execPath, target, argsFor: (p) => connectArgs(p, true) },
        { name: 'runs on', command: process.execPath, daemon: true, target, argsFor: (p) => connectArgs(p, false) },
      ],
      2,
    );
    expect(rows.map((r) => [r.name, r.runs])).toEqual([
      ['exits', 2],
      ['runs on', 2],
    ]);
    for (const r of rows) {
      expect(r.firstConnectMedianMs).toBeGreaterThan(0);
      expect(r.exitMedianMs).toBeGreaterThanOrEqual(r.firstConnectMedianMs);
    }
  });

  it('a command that never connects fails after the timeout and is killed, not left running', async () => {
    const fwd = await forwarder(target, () => undefined);
    // timeStartup settles only after the child has exited: a kill that failed would hang this test.
    try {
      await expect(
        timeStartup({ name: 'silent', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] }, () => new Promise<void>(() => undefined), 300),
      ).rejects.toThrow('silent did not connect within 300 ms');
    } finally {
      await fwd.close();
    }
  });

  it('a command that exits without connecting fails at once, with its exit code', async () => {
    // Had it waited for the 20 s timeout, the message would say so instead.
    await expect(
      timeStartup({ name: 'quitter', command: process.execPath, args: ['-e', 'process.exit(3)'] }, () => new Promise<void>(() => undefined), 20_000),
    ).rejects.toThrow('quitter exited (code 3) before it connected');
  });
});
