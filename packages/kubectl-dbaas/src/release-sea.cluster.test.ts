// The linux/amd64 single executable (Node SEA) as users unpack it from its release archive, run
// against the shared local cluster with no Node and no node_modules: `version` and `backup list`
// (the backups are pre-provisioned pairs of an unserved driver, so no CSI driver is needed).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeClients } from '@kubectl-dbaas/sdk';
import { clusterFromEnv, provisionBackupSnapshot } from '@kubectl-dbaas/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BackupListDocument } from './commands/backup/list/run.js';
import { buildRelease } from '../scripts/release/build.js';

const exec = promisify(execFile);
const info = clusterFromEnv(inject('dbaasCluster'));
const ns = `sea-${Date.now().toString(36)}`;
const clients = KubeClients.load({ kubeconfig: info.kubeconfig, namespace: ns });
const contents: string[] = [];
let work: string;
let binary: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'kubectl-dbaas-sea-'));
  const result = await buildRelease({
    targets: ['linux-amd64'],
    outDir: path.join(work, 'release'),
    manifest: path.join(work, 'dbaas.yaml'),
    build: false,
    log: () => undefined,
  });
  expect(result.failures).toEqual([]);
  const unpacked = path.join(work, 'unpacked');
  await mkdir(unpacked);
  await exec('tar', ['-xzf', result.archives[0]!.file, '-C', unpacked]);
  binary = path.join(unpacked, 'kubectl-dbaas');
  await clients.core.createNamespace({ body: { metadata: { name: ns } } });
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set: 'nightly', role: 'data', mode: 'fenced', at: new Date(Date.now() - 3_600_000) }));
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set: 'hourly', role: 'data', mode: 'online' }));
  contents.push(await provisionBackupSnapshot(clients, { namespace: ns, set: 'hourly', role: 'wal', mode: 'online' }));
}, 300_000);

afterAll(async () => {
  await clients.core.deleteNamespace({ name: ns }).catch(() => undefined);
  for (const name of contents) await clients.volumeSnapshotContents.delete(name).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the single executable against the local cluster', () => {
  const bare = () => ({ PATH: '/usr/bin:/bin', HOME: work, KUBECONFIG: info.kubeconfig });

  it('runs version and backup list (newest first, the online set with its -wal snapshot)', async () => {
    const version = await exec(binary, ['version', '-o', 'json'], { env: bare() });
    expect(JSON.parse(version.stdout)).toMatchObject({ platform: 'linux/x64' });
    // The snapshot-controller copies the ready status from the contents to the snapshots: wait for it.
    let list: BackupListDocument | undefined;
    for (let i = 0; i < 100; i++) {
      const out = await exec(binary, ['backup', 'list', '-n', ns, '-o', 'json'], { env: bare() });
      list = JSON.parse(out.stdout) as BackupListDocument;
      if (list.items.length === 2 && list.items.every((s) => s.state === 'ready')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(list!.items.map((s) => [s.name, s.mode, s.state, s.wal !== undefined])).toEqual([
      ['hourly', 'online', 'ready', true],
      ['nightly', 'fenced', 'ready', false],
    ]);
    const text = await exec(binary, ['backup', 'list', '-n', ns], { env: bare() });
    expect(text.stdout.split('\n')[0]).toMatch(/^NAME\s+MODE\s+STATE/);
  });
});
