/**
 * Every etcd key of one cluster, in Patroni's layout.
 *
 * @example
 * ```ts
 * import { keyLayout } from '@pgtools/dcs';
 * keyLayout('service', 'demo').leader; // '/service/demo/leader'
 * ```
 */
export interface KeyLayout {
  /** `/<namespace>/<scope>/`: the prefix of every key below (ends with a slash). */
  prefix: string;
  leader: string;
  /** `/<namespace>/<scope>/members/`; a member key is this plus the member name. */
  members: string;
  config: string;
  initialize: string;
  status: string;
  failover: string;
  sync: string;
  history: string;
  failsafe: string;
  /** Legacy `optime/leader` key (Patroni before 2.1 kept the leader's LSN there). */
  leaderOptime: string;
  /** The key of one member. */
  member(name: string): string;
}

/**
 * Builds the key paths exactly as Patroni does: `/` + namespace + `/` + scope, with runs of
 * slashes collapsed (so namespace `/service/` and `service` give the same keys).
 *
 * @example
 * ```ts
 * import { keyLayout } from '@pgtools/dcs';
 * const keys = keyLayout(undefined, 'demo');
 * keys.member('node1'); // '/service/demo/members/node1'
 * ```
 */
export function keyLayout(namespace: string | undefined, scope: string): KeyLayout {
  if (scope === '' || scope.includes('/')) throw new RangeError(`invalid scope ${JSON.stringify(scope)}: must be non-empty without '/'`);
  const base = `/${namespace ?? 'service'}/${scope}`.replace(/\/+/g, '/');
  const prefix = `${base}/`;
  const members = `${prefix}members/`;
  return {
    prefix,
    leader: `${prefix}leader`,
    members,
    config: `${prefix}config`,
    initialize: `${prefix}initialize`,
    status: `${prefix}status`,
    failover: `${prefix}failover`,
    sync: `${prefix}sync`,
    history: `${prefix}history`,
    failsafe: `${prefix}failsafe`,
    leaderOptime: `${prefix}optime/leader`,
    member: (name: string) => {
      if (name === '' || name.includes('/')) throw new RangeError(`invalid member name ${JSON.stringify(name)}`);
      return `${members}${name}`;
    },
  };
}
