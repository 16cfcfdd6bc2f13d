import type { Logger } from '@pgtools/core';
import { Etcd3 } from 'etcd3';
import type { EtcdDcsOptions, MemberData } from '../src/index.js';
import { EtcdDcs } from '../src/index.js';

let scopeCounter = 0;
/** A fresh scope per test so tests never see each other's keys. */
export function uniqueScope(label: string): string {
  scopeCounter += 1;
  return `${label}-${process.pid}-${scopeCounter}`;
}

export function memberData(port: number, role: MemberData['role'], xlog: number, timeline = 1): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${port}/postgres`,
    api_url: `http://127.0.0.1:${port + 3000}/patroni`,
    state: 'running',
    ...(role !== undefined ? { role } : {}),
    version: '3.0.2',
    xlog_location: xlog,
    timeline,
  };
}

/** Collects log lines so tests can check what was reported. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push(fields === undefined ? { level, message } : { level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Creates EtcdDcs instances and closes them all at the end of the test. */
export function dcsFactory(defaults: Pick<EtcdDcsOptions, 'hosts'> & Partial<EtcdDcsOptions>) {
  const created: EtcdDcs[] = [];
  return {
    make(options: Partial<EtcdDcsOptions> & Pick<EtcdDcsOptions, 'scope' | 'name'>): EtcdDcs {
      const dcs = new EtcdDcs({ ttl: 10, callTimeoutMs: 3000, ...defaults, ...options });
      created.push(dcs);
      return dcs;
    },
    async closeAll(): Promise<void> {
      await Promise.allSettled(created.splice(0).map((d) => d.close()));
    },
  };
}

/** A plain etcd3 client for looking at raw keys the way another tool would. */
export function rawClient(endpoints: string[]): Etcd3 {
  return new Etcd3({ hosts: endpoints, defaultCallOptions: () => ({ deadline: Date.now() + 5000 }) });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value (bounded in time). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
