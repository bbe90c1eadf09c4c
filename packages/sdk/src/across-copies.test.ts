// Two copies of the SDK in one process (the plugin's bundled copy and @kubectl-dbaas/testing's from
// node_modules): vi.resetModules() and a fresh import give the second copy of each module here.
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import { DbaasError, isDbaasError, toDbaasError } from './errors.js';
import { KubeClients } from './kube/clients.js';
import { toKubeError } from './kube/errors.js';
import { RestoreClient } from './restore/restore-client.js';
import { SnapshotClient } from './snapshot/snapshot-client.js';

async function secondCopy<T>(module: string): Promise<T> {
  vi.resetModules();
  return (await import(/* @vite-ignore */ module)) as T;
}

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u', namespace: 'team-a' }],
    currentContext: 'ctx',
  });
  return kc;
}

describe('the SDK classes tested with instanceof are recognised across copies of the SDK', () => {
  it('DbaasError: instanceof, toDbaasError, isDbaasError and toKubeError keep the other copy’s error, code and fix', async () => {
    const other = await secondCopy<typeof import('./errors.js')>('./errors.js');
    expect(other.DbaasError).not.toBe(DbaasError); // really a second copy
    const foreign = new other.DbaasError('KUBE_FORBIDDEN', 'no', { fix: 'ask for RBAC' });
    expect(foreign instanceof DbaasError).toBe(true);
    expect(new DbaasError('INTERNAL', 'x') instanceof other.DbaasError).toBe(true);
    expect(toDbaasError(foreign)).toBe(foreign);
    expect(isDbaasError(foreign, 'KUBE_FORBIDDEN')).toBe(true);
    expect(toKubeError(foreign, { verb: 'get', resource: 'pods', group: '' })).toBe(foreign);
    expect(other.toDbaasError(new DbaasError('KUBE_TIMEOUT', 't'))).toMatchObject({ code: 'KUBE_TIMEOUT', message: 't' });
  });

  it('DbaasError: look-alikes are not instances; subclasses keep the ordinary instanceof', () => {
    expect(Object.assign(new Error('x'), { name: 'DbaasError', code: 'INTERNAL' }) instanceof DbaasError).toBe(false);
    expect({ code: 'INTERNAL' } instanceof DbaasError).toBe(false);
    expect((null as unknown) instanceof DbaasError).toBe(false);
    expect(toDbaasError({ message: 'm' })).toMatchObject({ code: 'INTERNAL' });
    class Narrower extends DbaasError {}
    expect(new Narrower('INTERNAL', 'n') instanceof DbaasError).toBe(true);
    expect(new Narrower('INTERNAL', 'n') instanceof Narrower).toBe(true);
    expect(new DbaasError('INTERNAL', 'd') instanceof Narrower).toBe(false);
    expect(new DbaasError('INTERNAL', 'd') instanceof Error).toBe(true);
  });

  it('KubeClients: SnapshotClient and RestoreClient take the other copy’s clients as they are', async () => {
    const other = await secondCopy<typeof import('./kube/clients.js')>('./kube/clients.js');
    expect(other.KubeClients).not.toBe(KubeClients);
    const foreign = other.KubeClients.load({ kubeConfig: kubeConfig(), namespace: 'team-b' });
    expect(foreign instanceof KubeClients).toBe(true);
    expect(new SnapshotClient(foreign).clients).toBe(foreign);
    expect(new RestoreClient(foreign).clients).toBe(foreign);
    expect(KubeClients.load({ kubeConfig: kubeConfig() }) instanceof other.KubeClients).toBe(true);
    expect({ kubeConfig: kubeConfig() } instanceof KubeClients).toBe(false);
  });
});
