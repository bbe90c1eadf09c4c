// Rendering of `restore` (summary with the RTO breakdown, the dry run's lines and names), from SDK
// results built here.
import type { RestorePlan } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../progress.js';
import { restoreReport } from '../../restore-report.js';
import { restoreResult as result } from '../../test-support/restore-result.js';
import { manifestNames, renderRestore, restorePlanLines, restorePlanList, restoreProgressFollower, summaryLine } from './run.js';

describe('restore output', () => {
  it('text: where, what, state and the RTO breakdown; -o json drops the PVC object', () => {
    const report = restoreReport(result());
    expect(report).toMatchObject({ kind: 'Restore', pvc: 'pg-copy', volume: 'pvc-123', timings: { createToBoundMs: 6000, prepMs: 840, totalMs: 8100 } });
    expect(JSON.stringify(report)).not.toContain('"metadata"');
    const text = renderRestore(report);
    expect(text).toMatch(/^PVC: +staging\/pg-copy \(volume pvc-123\)$/m);
    expect(text).toMatch(/^backup: +prod\/nightly \(online, PostgreSQL 17\.6\)$/m);
    expect(text).toMatch(/^restore type: +cross-namespace \(a temporary VolumeSnapshotContent with the backup's snapshotHandle, Retain, removed\)$/m);
    expect(text).toMatch(/^state: +ready: the PVC holds the backup, its WAL and backup_label/m);
    expect(text).toMatch(/^RTO: +8\.1s in all: PVC created -> Bound 6\.0s, restore-prep \(WAL and backup_label\) 0\.8s$/m);
    expect(text).toMatch(/^phases: +resolved \+0\.1s, source-created \+0\.9s, pvc-created \+1\.0s, bound \+7\.0s, prep-started \+7\.0s, data-ready \+7\.8s$/m);
    expect(text).toMatch(/^next: +kubectl dbaas verify --pvc pg-copy -n staging$/m);
    expect(summaryLine(report)).toBe('restored backup prod/nightly into PVC staging/pg-copy (ready)');
  });

  it("a MariaDB online set: its engine's name, and no WAL or backup_label promised (its logs are in the data directory)", () => {
    const text = renderRestore(
      restoreReport(result({ backup: { namespace: 'prod', name: 'nightly', mode: 'online', engine: 'mariadb', engineVersion: '10.11.19' } })),
    );
    expect(text).toMatch(/^backup: +prod\/nightly \(online, MariaDB 10\.11\.19\)$/m);
    expect(text).toMatch(/^state: +ready: the PVC holds the backup$/m);
  });

  it('waiting for first consumer is explained, with what remains', () => {
    const report = restoreReport(
      result({
        state: 'waiting-for-first-consumer',
        restoreType: 'snapshot',
        backup: { namespace: 'db', name: 'n', mode: 'fenced', engine: undefined, engineVersion: undefined },
        storageClass: 'csi-hostpath-sc-wffc',
        pvc: { metadata: { name: 'pg-copy' } },
        timings: {
          phases: [
            { phase: 'resolved', atMs: 10 },
            { phase: 'pvc-created', atMs: 40 },
            { phase: 'waiting-for-first-consumer', atMs: 41 },
          ],
          createToBoundMs: undefined,
          prepMs: undefined,
          totalMs: 60,
        },
        remaining: ['VolumeSnapshot staging/pg-copy-dbaas-src: the source of the pending PVC'],
      }),
    );
    const text = renderRestore(report);
    expect(text).toMatch(
      /^state: +waiting for first consumer: StorageClass csi-hostpath-sc-wffc binds on first use, .* first pod that mounts PVC pg-copy is scheduled \(--consumer-node binds it now\)$/m,
    );
    expect(text).toMatch(/^RTO: +0\.1s in all$/m);
    expect(text).toMatch(/^remaining: +VolumeSnapshot staging\/pg-copy-dbaas-src/m);
    expect(text).not.toMatch(/^next:/m);
    expect(summaryLine(report)).toMatch(/\(waiting for its first consumer\)$/);
  });

  it('the dry run: lines saying what it found, a List, and kubectl names', () => {
    const pvc = { kind: 'PersistentVolumeClaim', metadata: { name: 'pg-copy' }, spec: { resources: { requests: { storage: '2Gi' } } } };
    const job = { kind: 'Job', metadata: { name: 'pg-copy-prep' }, spec: { template: { spec: { containers: [{ name: 'prep', image: 'postgres:17' }] } } } };
    const content = { kind: 'VolumeSnapshotContent', metadata: { name: 'dbaas-staging-pg-copy-dbaas-src' } };
    const vs = { kind: 'VolumeSnapshot', metadata: { name: 'pg-copy-dbaas-src' } };
    const plan = {
      namespace: 'staging',
      backupNamespace: 'prod',
      pvcName: 'pg-copy',
      set: 'nightly',
      mode: 'online',
      engineVersion: '17.6',
      restoreSize: '1Gi',
      driver: 'hostpath.csi.k8s.io',
      storageClassName: 'csi-hostpath-sc',
      waitForConsumer: false,
      crossNamespace: true,
      restoreType: 'cross-namespace',
      online: true,
      walPvcName: 'pg-copy-dbaas-wal',
      walFiles: ['000000010000000000000003', '000000010000000000000004'],
      sources: { data: { vsName: 'pg-copy-dbaas-src' } },
      pvcs: { data: pvc },
      prepJob: job,
      manifests: [content, vs, pvc, job],
    } as unknown as RestorePlan;
    const lines = restorePlanLines({ dryRun: 'client', plan, manifests: plan.manifests });
    expect(lines[0]).toBe('dry run (client: nothing sent to the API server): restore backup prod/nightly -> PVC staging/pg-copy');
    expect(lines).toContain('PVC size 2Gi, StorageClass csi-hostpath-sc');
    expect(lines.join('\n')).toMatch(/restore-prep copies 2 WAL segment\(s\) 000000010000000000000003\.\.000000010000000000000004/);
    expect(lines.join('\n')).toMatch(/restore-prep runs as the Job pg-copy-prep \(image postgres:17\)/);
    expect(manifestNames(restorePlanList({ dryRun: 'client', plan, manifests: plan.manifests }))).toEqual([
      'volumesnapshotcontent.snapshot.storage.k8s.io/dbaas-staging-pg-copy-dbaas-src',
      'volumesnapshot.snapshot.storage.k8s.io/pg-copy-dbaas-src',
      'persistentvolumeclaim/pg-copy',
      'job.batch/pg-copy-prep',
    ]);
    const server = restorePlanLines({ dryRun: 'server', plan, manifests: plan.manifests });
    expect(server[0]).toMatch(/^dry run \(server: validated by the API server, nothing stored\)/);
  });

  it('progress: one phase per wait, the SDK messages as details', () => {
    const out: string[] = [];
    let t = 0;
    const progress = createProgress({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => (t += 100) });
    const follow = restoreProgressFollower(progress);
    follow({
      phase: 'resolved',
      message: 'backup prod/nightly (online, 1Gi) -> PVC staging/pg-copy in StorageClass csi-hostpath-sc (cross-namespace)',
      elapsedMs: 1,
      restoreType: 'cross-namespace',
    });
    follow({ phase: 'pvc-created', message: 'PVC created', elapsedMs: 2 });
    follow({ phase: 'prep-started', message: 'copying 1 WAL segment(s)', elapsedMs: 3 });
    const seen = { cleanup: false };
    restoreProgressFollower(
      progress,
      seen,
    )({ phase: 'cleanup', message: 'removing what this restore created after: the restore was aborted', elapsedMs: 4, failure: 'the restore was aborted' });
    expect(seen.cleanup).toBe(true);
    progress.done();
    const text = out.join('');
    expect(text).toMatch(/\] creating the temporary VolumeSnapshotContent and VolumeSnapshot\n/);
    expect(text).toMatch(/\] waiting for the PVC to be Bound \(the driver writes the snapshot's data\)\n/);
    expect(text).toMatch(/\] restore-prep: copying 1 WAL segment\(s\)\n/);
    expect(text).toMatch(/\] restore-prep: failed after [\d.]+s: the restore was aborted\n/);
    expect(text).toMatch(/\] cleaning up: deleting what this restore created: done in/);
  });
});
