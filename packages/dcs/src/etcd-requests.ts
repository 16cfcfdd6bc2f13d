import type { ICompare, IKeyValue, IRequestOp } from 'etcd3';
import type { RawKeyValue } from './parse-cluster-view.js';

/** Pure builders of the etcd requests and readers of its answers that EtcdDcs uses. */

export function toRaw(kv: IKeyValue): RawKeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision), lease: kv.lease };
}

export function putOp(key: string, value: string, lease?: string): IRequestOp {
  const put: NonNullable<IRequestOp['request_put']> = { key: Buffer.from(key), value: Buffer.from(value) };
  if (lease !== undefined) put.lease = lease;
  return { request_put: put };
}

export function modCompare(key: string, expectedModRevision: number | undefined): ICompare[] {
  if (expectedModRevision === undefined) return [];
  return [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: expectedModRevision }];
}

/** The range end that selects every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
