// reuseConnections against the real kube-apiserver of the shared local cluster: API calls through
// KubeClients share keep-alive connections (client-node 2.0 alone opens one TLS connection per call).
// Connections are counted with undici's diagnostics channel.
import diagnosticsChannel from 'node:diagnostics_channel';
import { KubeConfig } from '@kubernetes/client-node';
import { clusterFromEnv } from '@kubectl-dbaas/testing';
import { describe, expect, inject, it } from 'vitest';
import { KubeClients } from './clients.js';

const info = clusterFromEnv(inject('dbaasCluster'));

async function connectionsDuring(work: () => Promise<void>): Promise<number> {
  let connected = 0;
  const count = (): void => {
    connected += 1;
  };
  diagnosticsChannel.subscribe('undici:client:connected', count);
  try {
    await work();
  } finally {
    diagnosticsChannel.unsubscribe('undici:client:connected', count);
  }
  return connected;
}

async function twentyCalls(clients: KubeClients): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    if (i % 2) await clients.core.readNamespace({ name: 'default' });
    else await clients.volumeSnapshotClasses.listAll();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b);
}

describe('KubeClients reuse connections', () => {
  it('20 sequential calls (core and custom-object APIs) use one connection, not 20', async () => {
    const clients = KubeClients.load({ kubeconfig: info.kubeconfig });
    let ms: number[] = [];
    const reused = await connectionsDuring(async () => {
      ms = await twentyCalls(clients);
    });
    // Without reuseConnections, client-node makes a new dispatcher (and connection) per call.
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    const fresh = kc.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api);
    let plain: number[] = [];
    const unshared = await connectionsDuring(async () => {
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await fresh.readNamespace({ name: 'default' });
        plain.push(performance.now() - t);
      }
      plain = plain.sort((a, b) => a - b);
    });
    console.log(
      `[connection-reuse] 20 calls: ${reused} connection(s), median ${ms[10]!.toFixed(1)} ms; client-node alone: ${unshared} connections, median ${plain[10]!.toFixed(1)} ms`,
    );
    expect(reused).toBeLessThanOrEqual(1);
    expect(unshared).toBeGreaterThanOrEqual(10);
  });

  it('is idempotent: a second KubeClients on the same KubeConfig keeps using the same connection', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    const a = KubeClients.load({ kubeConfig: kc });
    const b = KubeClients.load({ kubeConfig: kc });
    const n = await connectionsDuring(async () => {
      await a.core.readNamespace({ name: 'default' });
      await b.core.readNamespace({ name: 'default' });
      await a.volumeSnapshots.list({ namespace: 'default' });
    });
    expect(n).toBeLessThanOrEqual(1);
  });
});
