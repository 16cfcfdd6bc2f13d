import { closeSync, writeSync } from 'node:fs';

/** Writes all of `data` to `fd`, retrying short writes (a FIFO may accept part of it). */
export function writeAll(fd: number, data: string): void {
  let buf = Buffer.from(data, 'utf8');
  // Bounded: each round writes at least one byte or throws.
  for (let rounds = 0; buf.length > 0 && rounds < 1000; rounds++) {
    const n = writeSync(fd, buf);
    buf = buf.subarray(n);
  }
  if (buf.length > 0) throw new Error('short write to watchdog device');
}

/** Closes `fd`, ignoring EBADF: closing is best effort once the magic character is written. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
