import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { TestNetwork } from './netns.js';
import { freePort, makeTempDir, spawnManaged, waitFor, type ManagedProcess, type TempDir } from './process.js';

const run = promisify(execFile);

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly process: ManagedProcess;
  /** Stops the member (SIGTERM), keeping its data for `start()`. */
  stop(): Promise<void>;
  /** Starts the member again on the same ports and data. */
  start(): Promise<void>;
}

/** PEM files of a TLS etcd (made with the openssl CLI), and their contents. */
export interface EtcdTlsFiles {
  readonly dir: string;
  /** The test CA that signed the server and client certificates. */
  readonly caFile: string;
  /** A client certificate (CN `pgtools-client`) and its key, for `--client-cert-auth` and etcdctl. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Users of an etcd with authentication enabled. */
export interface EtcdAuthUsers {
  /** Always `root` (etcd requires it before `auth enable`); it may do anything. */
  readonly rootUser: 'root';
  readonly rootPassword: string;
  /** Each user has a role of its own name with readwrite on its prefix. */
  readonly users: ReadonlyArray<{ name: string; password: string; prefix: string }>;
}

/** Options of `startEtcd`. */
export interface StartEtcdOptions {
  /** Number of members (1 by default, 3 for the HA tests). */
  members?: number;
  /** Run each member in its own namespace of this test network (see `createNetwork`). */
  network?: TestNetwork;
  /**
   * Serve clients over TLS with a fresh test CA (peers stay on plain HTTP). `clientCertAuth`
   * also requires a client certificate signed by that CA (etcd's `--client-cert-auth`).
   */
  tls?: boolean | { clientCertAuth?: boolean };
  /**
   * Enable authentication: a `root` user (password `rootPassword`, random by default) and the
   * given users, each with readwrite on `prefix` (default `/`, every key Patroni writes).
   */
  auth?: { rootPassword?: string; users?: Array<{ name: string; password: string; prefix?: string }> };
}

export interface EtcdCluster {
  /** Client URLs of every member, e.g. `['http://127.0.0.1:23791']` (`https://` with `tls`). */
  readonly endpoints: string[];
  /** `host:port` of every member, the form Patroni's `etcd3.hosts` takes. */
  readonly hosts: string[];
  /** Patroni's `etcd3.protocol` for these members. */
  readonly protocol: 'http' | 'https';
  readonly members: EtcdMember[];
  /** Set when started with `tls`. */
  readonly tls: EtcdTlsFiles | undefined;
  /** Set when started with `auth`. */
  readonly auth: EtcdAuthUsers | undefined;
  /**
   * Runs `etcdctl` (API v3) against the members, with the CA and client certificate when TLS is
   * on and as `root` when auth is on (from the first member's namespace on a test network).
   * Resolves with its stdout; rejects with its stderr.
   */
  etcdctl(args: readonly string[]): Promise<string>;
  /** Stops every member and removes their data. Safe to call twice. */
  destroy(): Promise<void>;
}

/** How etcdctl reaches the members: TLS files and credentials as flags. */
function etcdctlFlags(endpoints: readonly string[], tls: EtcdTlsFiles | undefined, user: string | undefined): string[] {
  const flags = [`--endpoints=${endpoints.join(',')}`, '--command-timeout=5s'];
  if (tls) flags.push(`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`);
  if (user) flags.push(`--user=${user}`);
  return flags;
}

async function runEtcdctl(netns: string | undefined, flags: readonly string[], args: readonly string[]): Promise<string> {
  const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, 'etcdctl', ...flags, ...args]] : ['etcdctl', [...flags, ...args]];
  try {
    const { stdout } = await run(file, argv, { env: { ...process.env, ETCDCTL_API: '3' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    // Never echo the command line: it may carry --user root:<password>.
    throw new Error(`etcdctl ${args[0] ?? ''} ${args[1] ?? ''} failed: ${(e.stderr ?? '').trim() || e.message.split('\n')[0]}`);
  }
}

const openssl = async (args: string[]): Promise<void> => {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: install openssl (the test kit makes its TLS certificates with it)');
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
};

/**
 * A test CA, a server certificate for `addresses` (plus 127.0.0.1 and localhost) usable by
 * servers and peers, and a client certificate, as EC P-256 keys (fast to make, accepted by etcd
 * and gRPC). Valid for two days.
 */
async function makeCertificates(dir: string, addresses: readonly string[]): Promise<{ files: EtcdTlsFiles; serverCert: string; serverKey: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ips = [...new Set(['127.0.0.1', ...addresses])];
  const cnf = join(dir, 'openssl.cnf');
  writeFileSync(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = pgtools-test',
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth,clientAuth',
      `subjectAltName = ${[...ips.map((ip) => `IP:${ip}`), 'DNS:localhost'].join(',')}`,
      'authorityKeyIdentifier = keyid',
      '[client]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = clientAuth',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    '-config',
    cnf,
    '-extensions',
    'ca',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=pgtools-test-etcd-ca',
  ]);
  let serial = 1;
  const issue = async (name: string, cn: string, section: string): Promise<void> => {
    await openssl(['req', '-new', '-config', cnf, ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-set_serial',
      String(serial++),
      '-days',
      '2',
      '-extfile',
      cnf,
      '-extensions',
      section,
      '-out',
      f(`${name}.crt`),
    ]);
  };
  await issue('server', 'etcd', 'server');
  await issue('client', 'pgtools-client', 'client');
  const read = (name: string): string => readFileSync(f(name), 'utf8');
  return {
    files: {
      dir,
      caFile: f('ca.crt'),
      certFile: f('client.crt'),
      keyFile: f('client.key'),
      ca: read('ca.crt'),
      cert: read('client.crt'),
      key: read('client.key'),
    },
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
  };
}

/** From inside the member's namespace when it has one: the test process cannot reach it directly. */
async function memberHealthy(clientUrl: string, netns: string | undefined, tls: EtcdTlsFiles | undefined): Promise<boolean> {
  if (tls) {
    try {
      await runEtcdctl(netns, etcdctlFlags([clientUrl], tls, undefined), ['endpoint', 'health']);
      return true;
    } catch {
      return false;
    }
  }
  if (!netns) {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  }
  try {
    await run('ip', ['netns', 'exec', netns, 'etcdctl', `--endpoints=${clientUrl}`, '--command-timeout=1s', 'endpoint', 'health'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return true;
  } catch {
    return false;
  }
}

function etcdBinary(): string {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  throw new Error('etcd not found: install etcd-server or set ETCD_BIN');
}

/**
 * Starts a real etcd on 127.0.0.1: one member by default, or a cluster of `members` (3 for the HA tests).
 *
 * @example
 * ```ts
 * const etcd = await startEtcd({ members: 3 });
 * const client = new Etcd3({ hosts: etcd.endpoints });
 * // ...
 * await etcd.destroy();
 *
 * // TLS with client certificates, and authentication with one user:
 * const secure = await startEtcd({ tls: { clientCertAuth: true }, auth: { users: [{ name: 'patroni', password: 's3cret' }] } });
 * const c = new Etcd3({
 *   hosts: secure.endpoints,
 *   credentials: { rootCertificate: Buffer.from(secure.tls!.ca), certChain: Buffer.from(secure.tls!.cert), privateKey: Buffer.from(secure.tls!.key) },
 *   auth: { username: 'patroni', password: 's3cret' },
 * });
 * await secure.etcdctl(['put', '/service/demo/config', 'garbage']);
 * ```
 */
export async function startEtcd({ members = 1, network, tls, auth }: StartEtcdOptions = {}): Promise<EtcdCluster> {
  if (network && network.hosts.length < members) throw new Error(`the network has ${network.hosts.length} hosts for ${members} etcd members`);
  const binary = etcdBinary();
  const dir: TempDir = await makeTempDir('etcd');
  const specs: Array<{ name: string; host: string; netns: string | undefined; clientPort: number; peerPort: number }> = [];
  // On a test network each member is alone in its namespace, so fixed ports are free.
  for (let i = 1; i <= members; i++) {
    const host = network?.hosts[i - 1];
    specs.push({
      name: `etcd${i}`,
      host: host?.address ?? '127.0.0.1',
      netns: host?.netns,
      clientPort: host ? 2379 : await freePort(),
      peerPort: host ? 2380 : await freePort(),
    });
  }
  const scheme = tls ? 'https' : 'http';
  const clientCertAuth = typeof tls === 'object' && tls.clientCertAuth === true;
  let certs: Awaited<ReturnType<typeof makeCertificates>> | undefined;
  try {
    if (tls)
      certs = await makeCertificates(
        join(dir.path, 'tls'),
        specs.map((s) => s.host),
      );
  } catch (err) {
    dir.remove();
    throw err;
  }
  const tlsFiles = certs?.files;
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
  const token = `pgtools-${process.pid}-${Date.now()}`;
  const created: EtcdMember[] = [];

  const makeMember = (spec: (typeof specs)[number]): EtcdMember => {
    const clientUrl = `${scheme}://${spec.host}:${spec.clientPort}`;
    const peerUrl = `http://${spec.host}:${spec.peerPort}`;
    const args = [
      '--name',
      spec.name,
      '--data-dir',
      join(dir.path, spec.name),
      '--listen-client-urls',
      clientUrl,
      '--advertise-client-urls',
      clientUrl,
      '--listen-peer-urls',
      peerUrl,
      '--initial-advertise-peer-urls',
      peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      token,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--log-level',
      'warn',
      ...(certs ? ['--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--trusted-ca-file', certs.files.caFile] : []),
      ...(clientCertAuth ? ['--client-cert-auth'] : []),
    ];
    let proc: ManagedProcess | undefined;
    const member: EtcdMember = {
      name: spec.name,
      clientUrl,
      peerUrl,
      get process() {
        if (!proc) throw new Error('etcd member not started');
        return proc;
      },
      async start() {
        proc = spawnManaged(binary, args, {
          logFile: join(dir.path, `${spec.name}.log`),
          env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' },
          ...(spec.netns ? { netns: spec.netns } : {}),
        });
      },
      async stop() {
        await proc?.stop('SIGTERM', 10_000);
      },
    };
    return member;
  };

  try {
    for (const spec of specs) {
      const member = makeMember(spec);
      created.push(member);
      await member.start();
    }
    await Promise.all(
      created.map((member) =>
        waitFor(
          async () => {
            if (!member.process.isRunning()) throw new Error(`etcd ${member.name} exited:\n${member.process.logTail()}`);
            return await memberHealthy(member.clientUrl, specs.find((s) => s.name === member.name)?.netns, tlsFiles);
          },
          { timeoutMs: 30_000, describe: () => `etcd ${member.name} healthy:\n${member.process.logTail()}` },
        ),
      ),
    );
  } catch (err) {
    await Promise.allSettled(created.map((m) => m.stop()));
    dir.remove();
    throw err;
  }

  const endpoints = created.map((m) => m.clientUrl);
  const ctlNetns = specs[0]?.netns;
  let users: EtcdAuthUsers | undefined;
  if (auth) {
    const rootPassword = auth.rootPassword ?? `root-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const list = (auth.users ?? []).map((u) => ({ name: u.name, password: u.password, prefix: u.prefix ?? '/' }));
    const ctl = (args: string[]): Promise<string> => runEtcdctl(ctlNetns, etcdctlFlags(endpoints, tlsFiles, undefined), args);
    try {
      await ctl(['user', 'add', `root:${rootPassword}`, '--interactive=false']);
      await ctl(['user', 'grant-role', 'root', 'root']).catch(async () => {
        // etcd before 3.5 has no built-in root role to grant until it is created.
        await ctl(['role', 'add', 'root']);
        await ctl(['user', 'grant-role', 'root', 'root']);
      });
      for (const u of list) {
        await ctl(['user', 'add', `${u.name}:${u.password}`, '--interactive=false']);
        await ctl(['role', 'add', u.name]);
        await ctl(['role', 'grant-permission', u.name, '--prefix=true', 'readwrite', u.prefix]);
        await ctl(['user', 'grant-role', u.name, u.name]);
      }
      await ctl(['auth', 'enable']);
    } catch (err) {
      await Promise.allSettled(created.map((m) => m.stop()));
      dir.remove();
      throw err;
    }
    users = { rootUser: 'root', rootPassword, users: list };
  }

  let destroyed = false;
  return {
    endpoints,
    hosts: specs.map((s) => `${s.host}:${s.clientPort}`),
    protocol: scheme,
    members: created,
    tls: tlsFiles,
    auth: users,
    etcdctl: (args) => runEtcdctl(ctlNetns, etcdctlFlags(endpoints, tlsFiles, users ? `root:${users.rootPassword}` : undefined), args),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.allSettled(created.map((m) => m.stop()));
      dir.remove();
    },
  };
}
