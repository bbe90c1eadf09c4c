import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { KubeClients } from './clients.js';
import { operationOfPath } from './watch-until.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dbaas-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(server: string): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: { server: "${server}", insecure-skip-tls-verify: true }
- name: b
  cluster: { server: "https://b.example.invalid:6443" }
users:
- name: u
  user: { token: "not-a-real-token" }
contexts:
- name: ctx-a
  context: { cluster: a, user: u, namespace: team-a }
- name: ctx-b
  context: { cluster: b, user: u }
current-context: ctx-a
`,
    { mode: 0o600 },
  );
  return file;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('KubeClients.load', () => {
  it('honours --kubeconfig, --context and the context namespace', () => {
    const file = kubeconfig('https://127.0.0.1:1');
    const a = KubeClients.load({ kubeconfig: file });
    expect([a.context, a.namespace, a.server]).toEqual(['ctx-a', 'team-a', 'https://127.0.0.1:1']);
    const b = KubeClients.load({ kubeconfig: file, context: 'ctx-b' });
    expect([b.context, b.namespace, b.server]).toEqual(['ctx-b', 'default', 'https://b.example.invalid:6443']);
    expect(KubeClients.load({ kubeconfig: file, namespace: 'other' }).namespace).toBe('other');
    expect(a.volumeSnapshots.path({ name: 'x' })).toBe('/apis/snapshot.storage.k8s.io/v1/namespaces/team-a/volumesnapshots/x');
    expect(a.volumeSnapshotClasses.path()).toBe('/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses');
  });

  it('reads $KUBECONFIG when no file is given', () => {
    const file = kubeconfig('https://127.0.0.1:2');
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      expect(KubeClients.load().server).toBe('https://127.0.0.1:2');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('explains a missing file, an unknown context and a bad namespace', () => {
    const file = kubeconfig('https://127.0.0.1:1');
    const errors: unknown[] = [];
    for (const opts of [{ kubeconfig: path.join(dir, 'nope') }, { kubeconfig: file, context: 'prod' }, { kubeconfig: file, namespace: 'Bad_NS' }]) {
      try {
        KubeClients.load(opts);
      } catch (e) {
        errors.push(e);
      }
    }
    expect(errors.map((e) => (e as { code: string }).code)).toEqual(['KUBE_CONFIG_INVALID', 'KUBE_CONFIG_INVALID', 'INVALID_NAME']);
    expect((errors[1] as { fix: string }).fix).toBe('Use one of: ctx-a, ctx-b.');
  });

  it('maps a refused connection of a typed client to KUBE_UNREACHABLE naming the server and the operation', async () => {
    const port = await closedPort();
    const clients = KubeClients.load({ kubeconfig: kubeconfig(`https://127.0.0.1:${port}`) });
    const error = await clients.core.readNamespacedPersistentVolumeClaim({ name: 'data-pg-0', namespace: 'db' }).catch((e: unknown) => e);
    expect(isDbaasError(error, 'KUBE_UNREACHABLE')).toBe(true);
    expect((error as Error).message).toBe(
      `cannot connect to the Kubernetes API server https://127.0.0.1:${port}: connection refused (while trying to get persistentvolumeclaims "data-pg-0" in namespace "db")`,
    );
    const snap = await clients.volumeSnapshots.list().catch((e: unknown) => e);
    expect((snap as Error).message).toContain('list volumesnapshots.snapshot.storage.k8s.io in namespace "team-a"');
    const sts = await clients.apps.patchNamespacedStatefulSetScale({ name: 'pg', namespace: 'db', body: {} }).catch((e: unknown) => e);
    expect((sts as Error).message).toContain('patch statefulsets/scale.apps "pg"');
  });
});

describe('operationOfPath', () => {
  it('parses core and group collection paths', () => {
    expect(operationOfPath('/api/v1/namespaces/db/configmaps', 'watch')).toEqual({ verb: 'watch', resource: 'configmaps', group: '', namespace: 'db' });
    expect(operationOfPath('/apis/storage.k8s.io/v1/storageclasses', 'list')).toEqual({ verb: 'list', resource: 'storageclasses', group: 'storage.k8s.io' });
    expect(() => operationOfPath('/apis/x', 'list')).toThrow(/not a collection path/);
  });
});

describe("KubeClients.load with kubectl's connection flags (overrides)", () => {
  it("replaces the context's cluster, server, user and credentials, for this process only", () => {
    const file = kubeconfig('https://127.0.0.1:1');
    const byCluster = KubeClients.load({ kubeconfig: file, overrides: { cluster: 'b' } });
    expect([byCluster.context, byCluster.namespace, byCluster.server]).toEqual(['ctx-a', 'team-a', 'https://b.example.invalid:6443']);
    const byServer = KubeClients.load({
      kubeconfig: file,
      overrides: { server: 'https://10.0.0.9:6443', token: 't2', as: 'alice', insecureSkipTlsVerify: true },
    });
    expect(byServer.server).toBe('https://10.0.0.9:6443');
    const user = byServer.kubeConfig.getCurrentUser()!;
    expect([user.token, user.impersonateUser]).toEqual(['t2', 'alice']);
    expect(byServer.kubeConfig.getCurrentCluster()!.skipTLSVerify).toBe(true);
    // The other context and the file's own entries are untouched.
    expect(byServer.kubeConfig.getCluster('a')!.server).toBe('https://127.0.0.1:1');
    expect(KubeClients.load({ kubeconfig: file, context: 'ctx-b', overrides: { user: 'u' } }).server).toBe('https://b.example.invalid:6443');
  });

  it('refuses an unknown --user or --cluster (naming those there are), a missing certificate file, and a CA with --insecure-skip-tls-verify', () => {
    const file = kubeconfig('https://127.0.0.1:1');
    const failure = (overrides: object) => {
      try {
        KubeClients.load({ kubeconfig: file, overrides });
      } catch (e) {
        return e as { code: string; message: string; fix: string; option?: string };
      }
      throw new Error('loaded');
    };
    expect(failure({ user: 'admin' })).toMatchObject({
      code: 'KUBE_CONFIG_INVALID',
      message: `user "admin": no such user in ${file}`,
      fix: 'Use one of: u.',
      option: 'overrides.user',
    });
    expect(failure({ cluster: 'c' })).toMatchObject({ code: 'KUBE_CONFIG_INVALID', fix: 'Use one of: a, b.', option: 'overrides.cluster' });
    expect(failure({ clientCertificate: path.join(dir, 'no.crt') })).toMatchObject({
      code: 'KUBE_CONFIG_INVALID',
      message: `the client certificate file ${path.join(dir, 'no.crt')} does not exist`,
      option: 'overrides.clientCertificate',
    });
    expect(failure({ insecureSkipTlsVerify: true, certificateAuthority: file })).toMatchObject({
      message: expect.stringContaining('contradict'),
      option: 'overrides.insecureSkipTlsVerify',
    });
    // SDK text names options, never the CLI's flags (DbaasError.option says which one).
    for (const overrides of [
      { user: 'admin' },
      { cluster: 'c' },
      { clientKey: path.join(dir, 'no.key') },
      { insecureSkipTlsVerify: true, certificateAuthority: file },
    ]) {
      const error = failure(overrides);
      expect(`${error.message} ${error.fix}`).not.toMatch(/--[a-z]/);
    }
  });

  it('--server alone (plain http needs --insecure-skip-tls-verify, as in client-node), without any kubeconfig, as kubectl; sends --token and --as to the API server', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createHttpServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path.join(dir, 'nope');
    try {
      const { port } = server.address() as { port: number };
      const clients = KubeClients.load({ overrides: { server: `http://127.0.0.1:${port}`, token: 'flag-token', as: 'alice', insecureSkipTlsVerify: true } });
      expect([clients.context, clients.namespace]).toEqual(['flags', 'default']);
      await clients.core.listNamespace();
      expect(seen[0]).toMatchObject({ authorization: 'Bearer flag-token', 'impersonate-user': 'alice' });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
      server.closeAllConnections();
      server.close();
    }
  });

  it('--request-timeout: a request the server never answers fails as KUBE_TIMEOUT after that long', async () => {
    const server = createHttpServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as { port: number };
      const clients = KubeClients.load({ kubeconfig: kubeconfig(`http://127.0.0.1:${port}`), overrides: { requestTimeoutMs: 300 } });
      const started = Date.now();
      const error = await clients.core.listNamespace().catch((e: unknown) => e);
      expect(isDbaasError(error, 'KUBE_TIMEOUT'), String(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('KubeClients.load and $KUBECONFIG', () => {
  it('a $KUBECONFIG that does not exist: the same clear error and fix as --kubeconfig, not ENOENT', () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path.join(dir, 'nonexistent');
    try {
      let error: unknown;
      try {
        KubeClients.load();
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({
        code: 'KUBE_CONFIG_INVALID',
        message: `kubeconfig ${path.join(dir, 'nonexistent')} (from $KUBECONFIG) does not exist`,
        fix: expect.stringContaining('Point KUBECONFIG at an existing file'),
        option: 'kubeconfig',
      });
      // Missing files of a list are skipped, as kubectl does.
      process.env.KUBECONFIG = [path.join(dir, 'nonexistent'), kubeconfig('https://127.0.0.1:3')].join(path.delimiter);
      expect(KubeClients.load().server).toBe('https://127.0.0.1:3');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
