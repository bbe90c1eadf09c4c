// Rendering of `restore` (summary with the RTO breakdown, the dry run's lines and names) and of
// `verify`, from SDK results built here.
import type { RestorePlan, RestoreResult, VerifyResult } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../progress.js';
import { failureLines, renderVerify, verifyProgressFollower, verifyReport } from '../verify/run.js';
import { interruptNotice, manifestNames, renderRestore, restorePlanLines, restorePlanList, restoreProgressFollower, restoreReport, summaryLine } from './run.js';

function result(overrides: Partial<RestoreResult> = {}): RestoreResult {
  return {
    namespace: 'staging',
    pvcName: 'pg-copy',
    state: 'ready',
    backup: { namespace: 'prod', name: 'nightly', mode: 'online', engineVersion: '17.6' },
    restoreType: 'cross-namespace',
    size: '1Gi',
    storageClass: 'csi-hostpath-sc',
    driver: 'hostpath.csi.k8s.io',
    pvc: { metadata: { name: 'pg-copy' }, spec: { volumeName: 'pvc-123' } },
    remaining: [],
    prepOutput: 'dbaas-restore-prep: copied 1 segment',
    timings: {
      phases: [
        { phase: 'resolved', atMs: 120 },
        { phase: 'source-created', atMs: 900 },
        { phase: 'pvc-created', atMs: 960 },
        { phase: 'bound', atMs: 6950 },
        { phase: 'prep-started', atMs: 6960 },
        { phase: 'data-ready', atMs: 7800 },
      ],
      createToBoundMs: 6000,
      prepMs: 840,
      totalMs: 8100,
    },
    ...overrides,
  };
}

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

  it('waiting for first consumer is explained, with what remains', () => {
    const report = restoreReport(
      result({
        state: 'waiting-for-first-consumer',
        restoreType: 'snapshot',
        backup: { namespace: 'db', name: 'n', mode: 'fenced', engineVersion: undefined },
        storageClass: 'csi-hostpath-sc-wffc',
        pvc: { metadata: { name: 'pg-copy' } },
        timings: { phases: [{ phase: 'resolved', atMs: 10 }, { phase: 'pvc-created', atMs: 40 }, { phase: 'waiting-for-first-consumer', atMs: 41 }], createToBoundMs: undefined, prepMs: undefined, totalMs: 60 },
        remaining: ['VolumeSnapshot staging/pg-copy-dbaas-src: the source of the pending PVC'],
      }),
    );
    const text = renderRestore(report);
    expect(text).toMatch(/^state: +waiting for first consumer: StorageClass csi-hostpath-sc-wffc binds on first use, .* first pod that mounts PVC pg-copy is scheduled \(--consumer-node binds it now\)$/m);
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
      namespace: 'staging', backupNamespace: 'prod', pvcName: 'pg-copy', set: 'nightly', mode: 'online', engineVersion: '17.6', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io',
      storageClassName: 'csi-hostpath-sc', waitForConsumer: false, crossNamespace: true, restoreType: 'cross-namespace', online: true, walPvcName: 'pg-copy-dbaas-wal',
      walFiles: ['000000010000000000000003', '000000010000000000000004'], sources: { data: { vsName: 'pg-copy-dbaas-src' } }, pvcs: { data: pvc }, prepJob: job,
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
    follow({ phase: 'resolved', message: 'backup prod/nightly (online, 1Gi) -> PVC staging/pg-copy in StorageClass csi-hostpath-sc (cross-namespace)', elapsedMs: 1, restoreType: 'cross-namespace' });
    follow({ phase: 'pvc-created', message: 'PVC created', elapsedMs: 2 });
    follow({ phase: 'prep-started', message: 'copying 1 WAL segment(s)', elapsedMs: 3 });
    const seen = { cleanup: false };
    restoreProgressFollower(progress, seen)({ phase: 'cleanup', message: 'removing what this restore created after: the restore was aborted', elapsedMs: 4, failure: 'the restore was aborted' });
    expect(seen.cleanup).toBe(true);
    progress.done();
    const text = out.join('');
    expect(text).toMatch(/\] creating the temporary VolumeSnapshotContent and VolumeSnapshot\n/);
    expect(text).toMatch(/\] waiting for the PVC to be Bound \(the driver writes the snapshot's data\)\n/);
    expect(text).toMatch(/\] restore-prep: copying 1 WAL segment\(s\)\n/);
    expect(text).toMatch(/\] restore-prep: failed after [\d.]+s: the restore was aborted\n/);
    expect(text).toMatch(/\] cleaning up: deleting what this restore created: done in/);
  });

  it('the interrupt notice names this command\'s cleanup', () => {
    const out: string[] = [];
    interruptNotice('deleting what the restore created', (t) => void out.push(t))('\nSIGINT: stopping and cleaning up (lifting a fence, ending the backup session, deleting partial snapshots); Ctrl-C again exits at once\n');
    expect(out.join('')).toBe('\nSIGINT: stopping and cleaning up (deleting what the restore created); Ctrl-C again exits at once\n');
  });
});

function verified(overrides: Partial<VerifyResult> = {}): VerifyResult {
  return {
    ok: true,
    failures: [],
    findings: [],
    namespace: 'db',
    pvc: 'verify-nightly-a1b2c3',
    scratch: true,
    backup: { namespace: 'db', name: 'nightly', mode: 'online' },
    restore: result({ namespace: 'db', pvcName: 'verify-nightly-a1b2c3', restoreType: 'snapshot' }),
    offline: { verdict: 'online-backup-complete', safe: true, reasons: [], postgresMajorVersion: 17, missingSegments: [], requiredWal: { from: '0/3000028', to: '0/3000100', firstSegment: '000000010000000000000003', lastSegment: '000000010000000000000003' }, dataSubPath: '' },
    live: { readyMs: 1400, redoMs: 20, inRecovery: false, timeline: 1, expectedTimeline: 1, amcheck: { ran: true, databases: 2, indexes: 14, failures: [] }, checks: [{ name: 'rows', ok: true, message: 'true' }] },
    timings: { phases: [{ phase: 'restore', atMs: 100 }, { phase: 'offline-checked', atMs: 8300 }, { phase: 'ready-for-connections', atMs: 9800 }, { phase: 'recovery-done', atMs: 9900 }], totalMs: 10500 },
    ...overrides,
  };
}

describe('verify output', () => {
  it('passed: verdict, offline and live findings, amcheck, checks, RTO', () => {
    const report = verifyReport(verified(), 'pods in the cluster (exec and port-forward)');
    expect(report.kind).toBe('Verify');
    expect(report.restore).toMatchObject({ kind: 'Restore', pvc: 'verify-nightly-a1b2c3' });
    const text = renderVerify(report);
    expect(text).toMatch(/^result: +PASSED$/m);
    expect(text).toMatch(/^PVC: +db\/verify-nightly-a1b2c3 \(scratch restore, deleted afterwards\)$/m);
    expect(text).toMatch(/^offline: +online-backup-complete \(safe to start\); PostgreSQL 17, PGDATA at the volume root; WAL needed 000000010000000000000003$/m);
    expect(text).toMatch(/^live: +accepting connections after 1\.4s \(redo 0\.0s\); out of recovery on timeline 1 \(the backup's: 1\)$/m);
    expect(text).toMatch(/^amcheck: +bt_index_check on 14 btree index\(es\) in 2 database\(s\): no corruption found$/m);
    expect(text).toMatch(/^checks: +rows: passed$/m);
    expect(text).toMatch(/^RTO: +scratch restore 8\.1s in all: .*, accepting connections at \+9\.8s, out of recovery at \+9\.9s$/m);
    expect(text).not.toMatch(/failures:/);
  });

  it('failed: every failure listed, in text and for stderr', () => {
    const report = verifyReport(
      verified({
        ok: false,
        failures: ['check "rows": first column is false, not true', 'amcheck: postgres: t_pkey: corrupt'],
        findings: [
          { kind: 'live', check: 'user-check', name: 'rows', message: 'first column is false, not true' },
          { kind: 'live', check: 'amcheck', message: 'postgres: t_pkey: corrupt' },
        ],
        live: { readyMs: 1400, redoMs: undefined, inRecovery: false, timeline: 1, expectedTimeline: 1, amcheck: { ran: true, databases: 1, indexes: 3, failures: ['postgres: t_pkey: corrupt'] }, checks: [{ name: 'rows', ok: false, message: 'first column is false, not true' }] },
      }),
      'pods',
    );
    const text = renderVerify(report);
    expect(text).toMatch(/^result: +FAILED \(2 failures\)$/m);
    expect(text).toMatch(/^checks: +rows: FAILED \(first column is false, not true\)$/m);
    expect(text).toMatch(/\nfailures:\n {2}- check "rows": first column is false, not true\n {2}- amcheck: postgres: t_pkey: corrupt$/);
    expect(failureLines(report)).toEqual(['error: the copy did not pass verification (2 failures):', '  - check "rows": first column is false, not true', '  - amcheck: postgres: t_pkey: corrupt']);
  });

  it('an unsafe copy that was not started says why', () => {
    const text = renderVerify(
      verifyReport(
        verified({
          ok: false,
          scratch: false,
          pvc: 'pg-restored',
          failures: ['offline: online-backup-incomplete: WAL missing'],
          findings: [{ kind: 'offline', check: 'inspector', message: 'online-backup-incomplete: WAL missing' }],
          offline: { verdict: 'online-backup-incomplete', safe: false, reasons: ['WAL missing'], postgresMajorVersion: 17, missingSegments: ['000000010000000000000004'], requiredWal: { from: undefined, to: undefined, firstSegment: undefined, lastSegment: undefined }, dataSubPath: 'pgdata' },
          live: undefined,
        }),
        'pods',
      ),
    );
    expect(text).toMatch(/^offline: +online-backup-incomplete \(NOT safe to start\); PostgreSQL 17, PGDATA at pgdata; missing 000000010000000000000004$/m);
    expect(text).toMatch(/^live: +not started: the offline check found the copy unsafe \(--live-even-if-unsafe starts it anyway\)$/m);
    // Started anyway (--live-even-if-unsafe) and failed: the server's finding says so, not "not started".
    const started = renderVerify(
      verifyReport(
        verified({
          ok: false,
          failures: ['offline: online-backup-incomplete: WAL missing', 'live: PostgreSQL did not start: FATAL: could not locate required checkpoint record'],
          findings: [
            { kind: 'offline', check: 'inspector', message: 'online-backup-incomplete: WAL missing' },
            { kind: 'live', check: 'server', message: 'PostgreSQL did not start: FATAL: could not locate required checkpoint record' },
          ],
          offline: { verdict: 'online-backup-incomplete', safe: false, reasons: ['WAL missing'], postgresMajorVersion: 17, missingSegments: [], requiredWal: { from: undefined, to: undefined, firstSegment: undefined, lastSegment: undefined }, dataSubPath: '' },
          live: undefined,
        }),
        'pods',
      ),
    );
    expect(started).not.toMatch(/^live:/m);
    expect(started).toMatch(/ {2}- live: PostgreSQL did not start: FATAL/);
  });

  it('progress follows the scratch restore, then the server', () => {
    const out: string[] = [];
    const progress = createProgress({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => 0 });
    const follow = verifyProgressFollower(progress);
    follow({ phase: 'restore', message: 'pvc-created: PVC db/verify-x created (1Gi)', elapsedMs: 1, restore: { phase: 'pvc-created', message: 'PVC db/verify-x created (1Gi)', elapsedMs: 1 } });
    follow({ phase: 'restore', message: 'data-ready: PVC db/verify-x holds the backup', elapsedMs: 2, restore: { phase: 'data-ready', message: 'PVC db/verify-x holds the backup', elapsedMs: 2 } });
    follow({ phase: 'offline-checked', message: 'online-backup-complete', elapsedMs: 3 });
    follow({ phase: 'server-starting', message: 'starting PostgreSQL 17', elapsedMs: 4 });
    const text = out.join('');
    expect(text).toMatch(/scratch restore: waiting for the PVC to be Bound: PVC db\/verify-x created \(1Gi\)/);
    expect(text).toMatch(/offline check \(WAL inspector on the volume\): online-backup-complete/);
    expect(text).toMatch(/starting PostgreSQL on the copy: starting PostgreSQL 17/);
  });

  it('a scratch restore whose restore-prep fails: the step reads failed, never done', () => {
    const out: string[] = [];
    const progress = createProgress({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => 0 });
    const follow = verifyProgressFollower(progress);
    follow({ phase: 'restore', message: 'prep-started: Job db/verify-x-prep started', elapsedMs: 1, restore: { phase: 'prep-started', message: 'Job db/verify-x-prep started', elapsedMs: 1 } });
    follow({
      phase: 'restore',
      message: 'cleanup: removing what this restore created after: restore-prep failed: pod exited 1',
      elapsedMs: 2,
      restore: { phase: 'cleanup', message: 'removing what this restore created after: restore-prep failed: pod exited 1', elapsedMs: 2, failure: 'restore-prep failed: pod exited 1' },
    });
    const text = out.join('');
    expect(text).toContain('scratch restore: restore-prep: failed after 0.0s: restore-prep failed: pod exited 1\n');
    expect(text).not.toMatch(/restore-prep: done/);
    expect(text).toMatch(/scratch restore: cleaning up\n/);
  });
});
