import { withDcs, type CtlContext } from './hactl-context.js';
import { formatHistory, formatMembers, type OutputFormat } from './hactl-output.js';
import { ctlTimestamp, pyYaml } from './hactl-pyfmt.js';
import { redactSecrets } from './hactl-redact.js';

/**
 * Options of `list` and `topology`.
 *
 * @example
 * ```ts
 * import type { ListOptions } from './hactl-cmd-list.js';
 * const o: ListOptions = { clusters: ['demo'], fmt: 'pretty', extended: false, timestamp: false };
 * ```
 */
export interface ListOptions {
  clusters: string[];
  fmt: OutputFormat | 'yml';
  extended: boolean;
  timestamp: boolean;
  /** Seconds between refreshes (`-w`, or 2 with `-W`); undefined: print once. */
  watch?: number;
  /** Refreshes after the first one (ours: `--count`); undefined: until interrupted. */
  count?: number;
}

/**
 * `hactl list` / `hactl topology`: the members of each cluster, refreshed every `watch` seconds.
 *
 * @example
 * ```ts
 * await listCommand(ctx, { clusters: ['demo'], fmt: 'json', extended: false, timestamp: false });
 * ```
 */
export async function listCommand(ctx: CtlContext, options: ListOptions): Promise<number> {
  let round = 0;
  for (;;) {
    if (options.watch !== undefined) ctx.clear();
    if (options.timestamp) ctx.out(`${ctlTimestamp(ctx.now(), 0)}\n`);
    for (const name of options.clusters) {
      const view = await withDcs(ctx, name, (dcs) => dcs.loadCluster());
      ctx.out(formatMembers(view, name, { fmt: options.fmt, extended: options.extended }));
    }
    if (options.watch === undefined) return 0;
    if (options.count !== undefined && round >= options.count) return 0;
    round += 1;
    await ctx.sleep(options.watch);
  }
}

/**
 * `hactl history`: timeline switches from the `history` key.
 *
 * @example
 * ```ts
 * await historyCommand(ctx, 'demo', 'pretty');
 * ```
 */
export async function historyCommand(ctx: CtlContext, cluster: string, fmt: OutputFormat | 'yml'): Promise<number> {
  const view = await withDcs(ctx, cluster, (dcs) => dcs.loadCluster());
  ctx.out(formatHistory(view.history?.value ?? [], fmt));
  return 0;
}

/**
 * `hactl show-config`: the dynamic configuration (`config` key) as YAML, with secrets hidden
 * (patronictl prints it as it is; see `redactSecrets`).
 *
 * @example
 * ```ts
 * await showConfigCommand(ctx, 'demo');
 * ```
 */
export async function showConfigCommand(ctx: CtlContext, cluster: string): Promise<number> {
  const view = await withDcs(ctx, cluster, (dcs) => dcs.loadCluster());
  ctx.out(`${pyYaml(redactSecrets(view.config?.value ?? {}))}\n`);
  return 0;
}

/**
 * `hactl version [CLUSTER [MEMBER...]]`: our version, then each member's agent and PostgreSQL
 * versions from `GET /patroni`.
 *
 * @example
 * ```ts
 * await versionCommand(ctx, 'demo', []);
 * ```
 */
export async function versionCommand(ctx: CtlContext, cluster: string | undefined, memberNames: string[]): Promise<number> {
  ctx.out(`hactl version ${ctx.version}\n`);
  if (!cluster) return 0;
  ctx.out('\n');
  const view = await withDcs(ctx, cluster, (dcs) => dcs.loadCluster());
  let failed = false;
  for (const m of view.members) {
    if (!m.data.api_url || (memberNames.length > 0 && !memberNames.includes(m.name))) continue;
    try {
      const r = await ctx.rest.request(m.data.api_url, 'GET');
      const data = JSON.parse(r.body) as { patroni?: { version?: string }; server_version?: number };
      const pg = typeof data.server_version === 'number' && data.server_version > 0 ? ` PostgreSQL ${formatPgVersion(data.server_version)}` : '';
      ctx.out(`${m.name}: Patroni ${data.patroni?.version ?? 'None'}${pg}\n`);
    } catch (err) {
      failed = true;
      ctx.out(`${m.name}: failed to get version: ${(err as Error).message}\n`);
    }
  }
  return failed ? 1 : 0;
}

function formatPgVersion(v: number): string {
  return v < 100000 ? `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}` : `${Math.floor(v / 10000)}.${v % 100}`;
}
