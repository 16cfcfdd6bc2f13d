import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fenceScriptPath, parseFenceLine, startFence } from '../src/index.js';

describe('fence protocol', () => {
  it('parses every line the script writes', () => {
    expect(parseFenceLine('ready', 77)).toEqual({ type: 'ready', pid: 77 });
    expect(parseFenceLine('armed 4242 123456')).toEqual({ type: 'armed', postmasterPid: 4242, startTime: 123456 });
    expect(parseFenceLine('disarmed')).toEqual({ type: 'disarmed' });
    expect(parseFenceLine('fencing 4242 timeout 2030')).toEqual({ type: 'fencing', postmasterPid: 4242, reason: 'timeout', sinceKeepaliveMs: 2030 });
    expect(parseFenceLine('fencing 4242 agent_gone 10')).toMatchObject({ reason: 'agent_gone' });
    expect(parseFenceLine('fenced 4242 SIGKILL 520 2030')).toEqual({
      type: 'fenced',
      postmasterPid: 4242,
      signal: 'SIGKILL',
      tookMs: 520,
      sinceKeepaliveMs: 2030,
    });
    expect(parseFenceLine('failed 4242 4243 4250')).toEqual({ type: 'fence_failed', postmasterPid: 4242, survivors: [4243, 4250] });
    expect(parseFenceLine('skip 4242 pid_reused')).toEqual({ type: 'skipped', postmasterPid: 4242, reason: 'pid_reused' });
    expect(parseFenceLine('error bad_arm x')).toEqual({ type: 'error', message: 'bad_arm x' });
    expect(parseFenceLine('bye eof')).toEqual({ type: 'bye', reason: 'eof' });
    expect(parseFenceLine('revoked 7587 http://127.0.0.1:2379 12')).toEqual({ type: 'revoked', lease: '7587', endpoint: 'http://127.0.0.1:2379', tookMs: 12 });
    expect(parseFenceLine('revoked 7587 gone 3')).toMatchObject({ endpoint: 'gone' });
    expect(parseFenceLine('revoke_failed 7587 unreachable')).toEqual({ type: 'revoke_failed', lease: '7587', reason: 'unreachable' });
    expect(parseFenceLine('norevoke no_curl')).toEqual({ type: 'revoke_unavailable', reason: 'no_curl' });
    expect(parseFenceLine('fenced 1 SIGTERM 1 1')).toBeUndefined();
    expect(parseFenceLine('hello')).toBeUndefined();
  });

  it('the script is valid POSIX sh for dash', () => {
    expect(() => execFileSync('/bin/sh', ['-n', fenceScriptPath()])).not.toThrow();
  });

  it('refuses a bad configuration', async () => {
    await expect(startFence({ timeoutMs: 0 })).rejects.toMatchObject({ code: 'invalid_fence_config' });
    await expect(startFence({ timeoutMs: 1000, tickMs: 1 })).rejects.toMatchObject({ code: 'invalid_fence_config' });
    await expect(startFence({ timeoutMs: 1000, quitGraceMs: -1 })).rejects.toMatchObject({ code: 'invalid_fence_config' });
  });
});
