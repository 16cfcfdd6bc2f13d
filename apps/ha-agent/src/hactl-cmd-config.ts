import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfig } from '@pgtools/dcs';
import { parse as parseYaml } from 'yaml';
import { applySettings, patchConfig, sameJson } from './hactl-config-edit.js';
import { callMember, ctlError, membersLeaderFirst, withDcs, type CtlContext } from './hactl-context.js';
import { unifiedDiff } from './hactl-diff.js';
import { isPaused } from './hactl-members.js';
import { pyYaml } from './hactl-pyfmt.js';
import { redactSecrets } from './hactl-redact.js';

/**
 * `hactl pause` / `hactl resume`: `PATCH /config` with `{"pause": true}` (or `{"pause": null}`)
 * on the leader, else the first member that answers, like patronictl. With `wait`, polls etcd
 * until every member publishes the new state (at most loop_wait + 1 seconds).
 *
 * @example
 * ```ts
 * await pauseCommand(ctx, { cluster: 'demo', paused: true, wait: false });
 * ```
 */
export async function pauseCommand(ctx: CtlContext, o: { cluster: string; paused: boolean; wait: boolean }): Promise<number> {
  const word = o.paused ? 'paused' : 'resumed';
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    if (isPaused(view) === o.paused) throw ctlError(`Cluster is ${o.paused ? 'already' : 'not'} paused`);
    for (const m of membersLeaderFirst(view)) {
      let r;
      try {
        r = await callMember(ctx, m, 'PATCH', 'config', { pause: o.paused || null });
      } catch (err) {
        ctx.err(`WARNING: Member ${m.name} is not accessible: ${(err as Error).message}\n`);
        continue;
      }
      if (r.status !== 200) {
        ctx.out(`Failed: ${o.paused ? 'pause' : 'resume'} cluster management status code=${r.status}, (${r.body})\n`);
        return 1;
      }
      if (!o.wait) {
        ctx.out(`Success: cluster management is ${word}\n`);
        return 0;
      }
      ctx.out(`'${o.paused ? 'pause' : 'resume'}' request sent, waiting until it is recognized by all nodes\n`);
      const known = new Map(view.members.filter((x) => x.data.api_url).map((x) => [x.name, x.modRevision]));
      const loopWait = Number(view.config?.value.loop_wait ?? 10);
      const deadline = ctx.now().getTime() + (loopWait + 1) * 1000;
      let current = view;
      for (;;) {
        current = await dcs.loadCluster();
        const done = current.members.filter((x) => known.has(x.name)).every((x) => Boolean(x.data.pause) === o.paused);
        if (done) break;
        if (ctx.now().getTime() >= deadline) {
          const remaining = current.members
            .filter((x) => known.has(x.name) && Boolean(x.data.pause) !== o.paused && known.get(x.name) !== x.modRevision)
            .map((x) => x.name);
          if (remaining.length > 0) {
            ctx.out(`${remaining.join(', ')} members didn't recognized pause state after ${loopWait} seconds\n`);
            return 1;
          }
          break;
        }
        await ctx.sleep(1);
      }
      ctx.out(`Success: cluster management is ${word}\n`);
      return 0;
    }
    throw ctlError('Can not find accessible cluster member');
  });
}

/**
 * Options of `edit-config`.
 *
 * @example
 * ```ts
 * import type { EditConfigOptions } from './hactl-cmd-config.js';
 * const o: EditConfigOptions = { cluster: 'demo', set: ['ttl=20'], pg: [], quiet: false, force: true };
 * ```
 */
export interface EditConfigOptions {
  cluster: string;
  set: string[];
  pg: string[];
  apply?: string;
  replace?: string;
  quiet: boolean;
  force: boolean;
  /** Reads `-` (stdin) for --apply/--replace. */
  readStdin?: () => string;
  /** Runs $EDITOR when no change is given on the command line; undefined: refuse. */
  runEditor?: (before: string) => string;
}

function readYamlFile(path: string, readStdin?: () => string): Record<string, unknown> {
  const text = path === '-' ? (readStdin?.() ?? '') : readFileSync(path, 'utf8');
  const doc: unknown = parseYaml(text, { version: '1.1' });
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw ctlError(`${path === '-' ? 'stdin' : path}: the configuration must be a mapping`);
  return doc as Record<string, unknown>;
}

/**
 * `hactl edit-config`: change the dynamic configuration (`-s key=value`, `-p param=value`,
 * `--apply FILE`, `--replace FILE`, or $EDITOR), show the diff, confirm unless `--force`, and
 * write the `config` key by compare-and-swap on the revision that was read (a concurrent change
 * aborts: "Config modification aborted due to concurrent changes").
 *
 * @example
 * ```ts
 * await editConfigCommand(ctx, { cluster: 'demo', set: ['ttl=20'], pg: ['max_connections=200'], quiet: false, force: true });
 * ```
 */
export async function editConfigCommand(ctx: CtlContext, o: EditConfigOptions): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    const data = (view.config?.value ?? {}) as Record<string, unknown>;
    const before = pyYaml(data);
    let changed: Record<string, unknown> | undefined;
    let after: string | undefined;

    if (o.replace !== undefined) changed = readYamlFile(o.replace, o.readStdin);
    if (o.apply !== undefined) {
      const base = structuredClone(changed ?? data);
      patchConfig(base, readYamlFile(o.apply, o.readStdin));
      changed = base;
    }
    if (o.set.length > 0 || o.pg.length > 0) changed = applySettings(changed ?? data, o.set, o.pg);
    if (changed !== undefined) after = pyYaml(changed);

    if (changed === undefined) {
      if (!o.runEditor)
        throw ctlError('edit-config needs an editor but stdin is not a terminal; nothing was changed. Use -s key=value, -p param=value, --apply or --replace');
      after = o.runEditor(before);
      const doc: unknown = parseYaml(after, { version: '1.1' });
      changed = doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
    }

    if (sameJson(data, changed)) {
      if (!o.quiet) ctx.out('Not changed\n');
      return 0;
    }
    if (!o.quiet) {
      // Secrets never reach the terminal: with any in either version, the diff compares redacted
      // renderings, where a changed secret reads "******** (changed)".
      const hidden = redactSecrets(data);
      const hiddenAfter = redactSecrets(changed, data);
      const plain = JSON.stringify(hidden) === JSON.stringify(data) && JSON.stringify(redactSecrets(changed)) === JSON.stringify(changed);
      const lines = plain ? unifiedDiff(before, after ?? pyYaml(changed)) : unifiedDiff(pyYaml(hidden), pyYaml(hiddenAfter));
      for (const line of lines) ctx.out(`${line}\n`);
    }
    if ((o.apply === '-' || o.replace === '-') && !o.force) {
      ctx.out('Use --force option to apply changes\n');
      return 1;
    }
    if (o.force || (await ctx.prompter.confirm('Apply these changes?'))) {
      if (!(await dcs.setConfig(changed as ClusterConfig, view.config?.modRevision ?? 0)))
        throw ctlError('Config modification aborted due to concurrent changes');
      ctx.out('Configuration changed\n');
    }
    // Declining is not a failure (patronictl exits 0 too).
    return 0;
  });
}

/**
 * Edits `text` in $EDITOR (or `editor`, `vi`) on the terminal and returns the result, as
 * patronictl's `invoke_editor` does.
 *
 * @example
 * ```ts
 * const after = runEditor('ttl: 30\n', 'demo');
 * ```
 */
export function runEditor(text: string, cluster: string, env: Record<string, string | undefined> = process.env): string {
  const dir = mkdtempSync(join(tmpdir(), `${cluster}-config-`));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, text, { mode: 0o600 });
    const editor = env.EDITOR || env.VISUAL || 'vi';
    // EDITOR may carry arguments ("code -w"): let the shell split it.
    const r = spawnSync(`${editor} "$HACTL_EDIT_FILE"`, { shell: true, stdio: 'inherit', env: { ...env, HACTL_EDIT_FILE: file } });
    if (r.error) throw ctlError(`could not start the editor ${editor}: ${r.error.message}`);
    if (r.status !== 0) throw ctlError(`Editor exited with return code ${r.status ?? r.signal}`);
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
