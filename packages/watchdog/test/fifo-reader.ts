import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real FIFO made with mkfifo, read by the test like Patroni's WatchdogMonitor. */
export interface FifoReader {
  readonly path: string;
  text(): string;
  waitFor(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

export function makeFifoDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pgtools-test-watchdog-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openFifoReader(dir: string, name = 'watchdog.fifo'): FifoReader {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  // Holding a writer end of our own keeps the reader from seeing EOF before the watchdog opens it.
  const keepFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  return {
    path,
    text: () => data,
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(data)) {
        if (Date.now() > deadline) throw new Error(`FIFO content did not match in ${timeoutMs} ms: ${JSON.stringify(data)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return data;
    },
    close() {
      socket.destroy();
      try {
        closeSync(keepFd);
      } catch {
        // closed
      }
    },
  };
}
