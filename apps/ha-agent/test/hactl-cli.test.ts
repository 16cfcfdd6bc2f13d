import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/hactl-args.js';
import { ctlConfigFromDocument, parseDcsUrl } from '../src/hactl-config.js';
import { linePrompter, refusingPrompter } from '../src/hactl-prompt.js';
import { runHactl } from '../src/hactl.js';

function capture(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = capture();
  const stderr = capture();
  const stdin = new PassThrough();
  stdin.end();
  const code = await runHactl(argv, { stdout, stderr, stdin, env: { HOME: dir, ...env } });
  return { code, out: stdout.text(), err: stderr.text() };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hactl-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('argument errors exit 2 with a usage line', () => {
  it('rejects unknown commands, options and formats', async () => {
    const bogusVerb = await run(['frobnicate']);
    expect(bogusVerb.code).toBe(2);
    expect(bogusVerb.err).toContain("Error: No such command 'frobnicate'.");

    const bogusOpt = await run(['list', '--bogus']);
    expect(bogusOpt.code).toBe(2);
    expect(bogusOpt.err).toContain('Usage: hactl list [OPTIONS] [CLUSTER_NAMES]...');
    expect(bogusOpt.err).toContain('Error: No such option: --bogus');

    const badFormat = await run(['-d', '127.0.0.1:1', 'list', 'x', '-f', 'xml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.err).toContain("'xml' is not one of 'pretty', 'tsv', 'json', 'yaml'");

    const noCluster = await run(['-d', '127.0.0.1:1', 'restart', '--force']);
    expect(noCluster.code).toBe(2);
    expect(noCluster.err).toContain("Missing argument 'CLUSTER_NAME'.");

    const badRole = await run(['-d', '127.0.0.1:1', 'restart', 'demo', '-r', 'boss']);
    expect(badRole.code).toBe(2);

    expect((await run([])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('switchover');
  });

  it('reports a missing or unusable configuration with exit 2, never printing passwords', async () => {
    const missing = await run(['-c', join(dir, 'nope.yml'), 'list']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('not existing or no read rights. Check the -c/--config-file parameter');

    const v2 = join(dir, 'v2.yml');
    await writeFile(v2, 'scope: demo\netcd:\n  host: 127.0.0.1:2379\n  password: hunter2\n');
    const refused = await run(['-c', v2, 'list']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('rename it `etcd3:`');
    expect(refused.err).not.toContain('hunter2');

    const noDcs = join(dir, 'nodcs.yml');
    await writeFile(noDcs, 'scope: demo\n');
    const none = await run(['-c', noDcs, 'list']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('no etcd configured');

    const broken = join(dir, 'broken.yml');
    await writeFile(broken, 'scope: demo\nrestapi:\n  authentication: {password: hunter2\n');
    const bad = await run(['-c', broken, 'list']);
    expect(bad.code).toBe(2);
    expect(bad.err).not.toContain('hunter2');
  });

  it('prints its version without configuration', async () => {
    const r = await run(['version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^hactl version \d+\.\d+\.\d+\n$/);
  });
});

describe('configuration', () => {
  it('reads etcd3 hosts, restapi authentication and PATRONI_* overrides; -d replaces etcd', () => {
    const doc = { scope: 'demo', etcd3: { hosts: ['10.0.0.1:2379', '10.0.0.2:2379'] }, restapi: { authentication: { username: 'admin', password: 's3cret' } } };
    const c = ctlConfigFromDocument(doc, { PATRONI_RESTAPI_PASSWORD: 'fromenv' });
    expect(c.scope).toBe('demo');
    expect(c.namespace).toBe('/service/');
    expect(c.etcd?.hosts).toEqual(['10.0.0.1:2379', '10.0.0.2:2379']);
    expect(c.rest.auth).toEqual({ username: 'admin', password: 'fromenv' });
    expect(ctlConfigFromDocument(doc, {}, 'etcd3://127.0.0.9:2399').etcd?.hosts).toEqual(['127.0.0.9:2399']);
    expect(parseDcsUrl('localhost')).toEqual({ hosts: ['localhost:2379'], protocol: 'http' });
    expect(() => parseDcsUrl('zookeeper://h:2181')).toThrow(/Unknown dcs scheme: zookeeper/);
  });

  it('parses global options before the verb and verb options after it', () => {
    const p = parseCommandLine(['-c', 'cfg.yml', '--dcs-url=etcd3://h:1', 'switchover', '--master', 'pg1', '--candidate', 'pg2', '--force', 'demo']);
    expect(p.global).toMatchObject({ configFile: 'cfg.yml', dcsUrl: 'etcd3://h:1' });
    expect(p.verb).toBe('switchover');
    expect(p.values).toMatchObject({ master: 'pg1', candidate: 'pg2', force: true });
    expect(p.positionals).toEqual(['demo']);
    expect(parseCommandLine(['edit-config', '-s', 'ttl=20', '-s', 'loop_wait=5', '-p', 'max_connections=200']).values).toMatchObject({
      set: ['ttl=20', 'loop_wait=5'],
      pg: ['max_connections=200'],
    });
  });
});

describe('remove, flush, query and reinit --from-leader arguments', () => {
  it('parses query like patronictl: -c/-f, -U, -d, --password, -W (watch every 2 s) and -w N, --format, --delimiter', () => {
    const p = parseCommandLine(['query', 'demo', '-c', 'SELECT 1', '-U', 'app', '-d', 'appdb', '--password', '-W', '--format', 'json', '--delimiter', ',']);
    expect(p.positionals).toEqual(['demo']);
    expect(p.values).toMatchObject({ command: 'SELECT 1', username: 'app', dbname: 'appdb', password: true, W: true, format: 'json', delimiter: ',' });
    expect(parseCommandLine(['query', '-f', 'q.sql', '-w', '5', '-r', 'replica']).values).toMatchObject({ file: 'q.sql', watch: '5', role: 'replica' });
    expect(parseCommandLine(['query', '-m', 'pg2', '-c', 'SELECT 1']).values).toMatchObject({ member: 'pg2' });
    expect(parseCommandLine(['reinit', 'demo', 'pg2', '--from-leader', '--force']).values).toMatchObject({ 'from-leader': true, force: true });
    expect(parseCommandLine(['flush', 'demo', 'pg2', 'pg3', 'restart', '-r', 'replica', '--force']).positionals).toEqual(['demo', 'pg2', 'pg3', 'restart']);
  });

  it('refuses bad query, flush and remove arguments before reaching etcd', async () => {
    const fmt = await run(['-d', '127.0.0.1:1', 'query', 'demo', '-c', 'SELECT 1', '--format', 'xml']);
    expect([fmt.code, fmt.err]).toEqual([2, expect.stringContaining("'xml' is not one of 'pretty', 'tsv', 'json', 'yaml'") as unknown]);
    const both = await run(['-d', '127.0.0.1:1', 'query', 'demo', '-c', 'SELECT 1', '-f', 'x.sql']);
    expect([both.code, both.err]).toEqual([1, 'Error: --file and --command are mutually exclusive options\n']);
    const none = await run(['-d', '127.0.0.1:1', 'query', 'demo']);
    expect([none.code, none.err]).toEqual([1, 'Error: You need to specify either --command or --file\n']);
    const noTarget = await run(['-d', '127.0.0.1:1', 'flush', 'demo']);
    expect([noTarget.code, noTarget.err]).toEqual([2, expect.stringContaining("Missing argument '{restart|switchover}'.") as unknown]);
    const badTarget = await run(['-d', '127.0.0.1:1', 'flush', 'demo', 'pg2', 'reload']);
    expect([badTarget.code, badTarget.err]).toEqual([2, expect.stringContaining("'reload' is not one of 'restart', 'switchover'") as unknown]);
    const noCluster = await run(['-d', '127.0.0.1:1', 'remove']);
    expect([noCluster.code, noCluster.err]).toEqual([2, expect.stringContaining("Missing argument 'CLUSTER_NAME'.") as unknown]);
    const extra = await run(['-d', '127.0.0.1:1', 'remove', 'demo', 'pg1']);
    expect([extra.code, extra.err]).toEqual([2, expect.stringContaining('Got unexpected extra argument (pg1)') as unknown]);
    const help = await run(['reinit', '--help']);
    expect(help.out).toContain('--from-leader');
  });
});

describe('questions', () => {
  it('refuses to ask without a terminal, naming the flags that make the run unattended', async () => {
    const p = refusingPrompter('switchover', '--force with --candidate');
    await expect(p.confirm('Are you sure you want to switchover cluster demo?')).rejects.toMatchObject({
      code: 'needs_confirmation',
      message: expect.stringContaining('stdin is not a terminal; nothing was done') as unknown,
    });
  });

  it('asks like click: defaults in brackets, y/N confirmation repeated on bad input', async () => {
    const input = new PassThrough();
    const output = capture();
    const p = linePrompter(input, output);
    input.write('\n');
    expect(await p.prompt('Primary', 'pg1')).toBe('pg1');
    input.write('pg3\n');
    expect(await p.prompt("Candidate ['pg2', 'pg3']", '')).toBe('pg3');
    input.write('maybe\ny\n');
    expect(await p.confirm('Are you sure you want to switchover cluster demo, demoting current leader pg1?')).toBe(true);
    input.end();
    await expect(p.confirm('Again?')).rejects.toMatchObject({ code: 'aborted' });
    p.close();
    expect(output.text()).toBe(
      "Primary [pg1]: Candidate ['pg2', 'pg3'] []: Are you sure you want to switchover cluster demo, demoting current leader pg1? [y/N]: Error: invalid input\n" +
        'Are you sure you want to switchover cluster demo, demoting current leader pg1? [y/N]: Again? [y/N]: ',
    );
  });

  it('does not echo a password typed on a terminal (query --password)', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
    const output = capture();
    const p = linePrompter(input, output, true);
    const answer = p.prompt('Password', undefined, { hidden: true });
    input.write('s3cret\n');
    expect(await answer).toBe('s3cret');
    p.close();
    expect(output.text()).toContain('Password: ');
    expect(output.text()).not.toContain('s3cret');
  });
});
