// Rendering of `verify` (verdict, findings, failures, progress), from SDK results built here.
import type { VerifyResult } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../progress.js';
import { restoreResult as result } from '../../test-support/restore-result.js';
import { failureLines, renderVerify, verifyProgressFollower, verifyReport } from './run.js';

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
    offline: {
      verdict: 'online-backup-complete',
      safe: true,
      reasons: [],
      postgresMajorVersion: 17,
      missingSegments: [],
      requiredWal: { from: '0/3000028', to: '0/3000100', firstSegment: '000000010000000000000003', lastSegment: '000000010000000000000003' },
      dataSubPath: '',
      standby: false,
    },
    live: {
      readyMs: 1400,
      redoMs: 20,
      inRecovery: false,
      timeline: 1,
      expectedTimeline: 1,
      amcheck: { ran: true, databases: 2, indexes: 14, failures: [] },
      checks: [{ name: 'rows', ok: true, message: 'true' }],
    },
    timings: {
      phases: [
        { phase: 'restore', atMs: 100 },
        { phase: 'offline-checked', atMs: 8300 },
        { phase: 'ready-for-connections', atMs: 9800 },
        { phase: 'recovery-done', atMs: 9900 },
      ],
      totalMs: 10500,
    },
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
    expect(text).toMatch(
      /^offline: +online-backup-complete \(safe to start\); PostgreSQL 17, PGDATA at the volume root; WAL needed 000000010000000000000003$/m,
    );
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
        live: {
          readyMs: 1400,
          redoMs: undefined,
          inRecovery: false,
          timeline: 1,
          expectedTimeline: 1,
          amcheck: { ran: true, databases: 1, indexes: 3, failures: ['postgres: t_pkey: corrupt'] },
          checks: [{ name: 'rows', ok: false, message: 'first column is false, not true' }],
        },
      }),
      'pods',
    );
    const text = renderVerify(report);
    expect(text).toMatch(/^result: +FAILED \(2 failures\)$/m);
    expect(text).toMatch(/^checks: +rows: FAILED \(first column is false, not true\)$/m);
    expect(text).toMatch(/\nfailures:\n {2}- check "rows": first column is false, not true\n {2}- amcheck: postgres: t_pkey: corrupt$/);
    expect(failureLines(report)).toEqual([
      'error: the copy did not pass verification (2 failures):',
      '  - check "rows": first column is false, not true',
      '  - amcheck: postgres: t_pkey: corrupt',
    ]);
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
          offline: {
            verdict: 'online-backup-incomplete',
            safe: false,
            reasons: ['WAL missing'],
            postgresMajorVersion: 17,
            missingSegments: ['000000010000000000000004'],
            requiredWal: { from: undefined, to: undefined, firstSegment: undefined, lastSegment: undefined },
            dataSubPath: 'pgdata',
            standby: false,
          },
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
          offline: {
            verdict: 'online-backup-incomplete',
            safe: false,
            reasons: ['WAL missing'],
            postgresMajorVersion: 17,
            missingSegments: [],
            requiredWal: { from: undefined, to: undefined, firstSegment: undefined, lastSegment: undefined },
            dataSubPath: '',
            standby: false,
          },
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
    follow({
      phase: 'restore',
      message: 'pvc-created: PVC db/verify-x created (1Gi)',
      elapsedMs: 1,
      restore: { phase: 'pvc-created', message: 'PVC db/verify-x created (1Gi)', elapsedMs: 1 },
    });
    follow({
      phase: 'restore',
      message: 'data-ready: PVC db/verify-x holds the backup',
      elapsedMs: 2,
      restore: { phase: 'data-ready', message: 'PVC db/verify-x holds the backup', elapsedMs: 2 },
    });
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
    follow({
      phase: 'restore',
      message: 'prep-started: Job db/verify-x-prep started',
      elapsedMs: 1,
      restore: { phase: 'prep-started', message: 'Job db/verify-x-prep started', elapsedMs: 1 },
    });
    follow({
      phase: 'restore',
      message: 'cleanup: removing what this restore created after: restore-prep failed: pod exited 1',
      elapsedMs: 2,
      restore: {
        phase: 'cleanup',
        message: 'removing what this restore created after: restore-prep failed: pod exited 1',
        elapsedMs: 2,
        failure: 'restore-prep failed: pod exited 1',
      },
    });
    const text = out.join('');
    expect(text).toContain('scratch restore: restore-prep: failed after 0.0s: restore-prep failed: pod exited 1\n');
    expect(text).not.toMatch(/restore-prep: done/);
    expect(text).toMatch(/scratch restore: cleaning up\n/);
  });
});
