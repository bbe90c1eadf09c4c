import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
