import { PgToolsError } from '@pgtools/core';
import { EtcdError, EtcdPermissionDeniedError, GRPCCancelledError, GRPCGenericError, GRPCInternalError, GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { toDcsError } from '../src/dcs-errors.js';
import { isHostFailure } from '../src/fault-handling.js';

const hosts = ['127.0.0.1:2379', '127.0.0.1:2380'];

describe('toDcsError', () => {
  it.each([
    ['a refused connection', new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379')],
    ['a cluster between leaders', new EtcdError('etcdserver: leader changed')],
    ['a member that lost quorum', new EtcdError('etcdserver: request timed out, possibly due to previous leader failure')],
    ['a request etcd cancelled', new EtcdError('etcdserver: request cancelled')],
    ['a call cancelled when its member stopped', new GRPCCancelledError('1 CANCELLED: Call cancelled')],
    ['a stream reset mid-call', new GRPCInternalError('13 INTERNAL: Received RST_STREAM with code 2 triggered by internal client error')],
    ['a stream removed by a stopping server', new GRPCGenericError('2 UNKNOWN: Stream removed')],
  ])('%s is dcs_unavailable, worth another member', (_what, err) => {
    const e = toDcsError(err, 'update leader lock', hosts);
    expect(e).toBeInstanceOf(PgToolsError);
    expect(e.code).toBe('dcs_unavailable');
    expect(e.message).toContain('127.0.0.1:2379, 127.0.0.1:2380');
    expect(e.cause).toBe(err);
    expect(isHostFailure(err)).toBe(true);
  });

  it('an answer etcd means (permission denied, an unknown etcdserver error) is not unavailability', () => {
    expect(toDcsError(new EtcdPermissionDeniedError('etcdserver: permission denied'), 'put', hosts).code).toBe('dcs_auth_failed');
    const odd = new EtcdError('etcdserver: mvcc: required revision has been compacted');
    expect(toDcsError(odd, 'watch', hosts).code).toBe('dcs_error');
    expect(isHostFailure(odd)).toBe(false);
  });
});
