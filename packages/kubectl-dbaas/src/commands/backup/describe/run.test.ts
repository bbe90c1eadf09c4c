import { groupBackupSets, snapshotAtomicity, summarizeSnapshot, type BackupSetDetails, type DescribedSnapshot } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { NOW, snapshot } from '../backup-test-fixtures.js';
import { backupDescription, renderBackupDescription } from './run.js';

/** What SnapshotClient.describe returns for these snapshots (contents as given). */
function details(objects: ReturnType<typeof snapshot>[], contents: Partial<Record<string, DescribedSnapshot['content']>> = {}): BackupSetDetails {
  const [group] = groupBackupSets(objects.map(summarizeSnapshot));
  const described: DescribedSnapshot[] = group!.snapshots.map((s) => ({
    ...s,
    object: objects.find((o) => o.metadata.name === s.name)!,
    ...(contents[s.name] ? { content: contents[s.name]! } : {}),
  }));
  const { data: _d, wal: _w, volumes: _v, snapshots: _s, ...rest } = group!;
  return {
    ...rest,
    snapshots: described,
    volumes: described.filter((s) => s.role === 'volume'),
    data: described.find((s) => s.role === 'data')!,
    ...(described.some((s) => s.role === 'wal') ? { wal: described.find((s) => s.role === 'wal')! } : {}),
  };
}

describe('backup describe rendering', () => {
  const online = details(
    [
      snapshot('nightly', 'data', {
        mode: 'online',
        extra: { startLsn: 0x3000028n, stopLsn: 0x3000100n, firstWalFile: '000000010000000000000003', lastWalFile: '000000010000000000000003', timeline: 1 },
      }),
      snapshot('nightly', 'wal', { mode: 'online' }),
    ],
    {
      nightly: {
        name: 'snapcontent-1',
        driver: 'hostpath.csi.k8s.io',
        deletionPolicy: 'Delete',
        snapshotHandle: 'h-1',
        readyToUse: true,
        restoreSize: 1073741824,
      },
    },
  );

  it('lays the backup out as kubectl describe does: fields, then each snapshot with its content', () => {
    const text = renderBackupDescription(backupDescription(online), { now: NOW });
    expect(text).toMatch(/^Name: +nightly$/m);
    expect(text).toMatch(/^Restorable: +yes: with its -wal snapshot \(backup_label and the WAL to the stop LSN\)$/m);
    expect(text).toMatch(/^Mode: +online$/m);
    expect(text).toMatch(/^Engine: +postgres 17\.6$/m);
    expect(text).toMatch(/^Start LSN: +0\/3000028$/m);
    expect(text).toMatch(/^Stop LSN: +0\/3000100$/m);
    expect(text).toMatch(/^WAL files: +000000010000000000000003 \.\. 000000010000000000000003$/m);
    expect(text).toMatch(/^Requested: +2026-11-22T11:00:00\.000Z \(60m ago\)$/m);
    expect(text).toContain('Snapshots:\n  nightly (data):\n    State:');
    expect(text).toMatch(/^ {4}Driver: +hostpath\.csi\.k8s\.io$/m);
    expect(text).toMatch(/^ {4}Snapshot handle: +h-1$/m);
    expect(text).toMatch(/^ {2}nightly-wal \(wal\):$/m);
  });

  it('says why an online backup without its -wal snapshot is not restorable; JSON has no raw objects', () => {
    const view = backupDescription(details([snapshot('lonely', 'data', { mode: 'online' })]));
    expect(view.missingWal).toBe(true);
    expect(renderBackupDescription(view, { now: NOW })).toMatch(/^Restorable: +no: the -wal snapshot of this online backup is missing/m);
    expect(JSON.stringify(view)).not.toContain('"object"');
  });

  it('a crash copy is restorable only if the driver is atomic: on hostpath (taken with --force) it says it may be torn', () => {
    const crash = details([snapshot('forced', 'data', { mode: 'crash' })]);
    const hostpath = renderBackupDescription(backupDescription(crash, snapshotAtomicity('hostpath.csi.k8s.io')), { now: NOW });
    expect(hostpath).toMatch(/^Restorable: +not guaranteed: a crash copy on hostpath\.csi\.k8s\.io, whose snapshots are not atomic .* may be torn$/m);
    const ebs = renderBackupDescription(backupDescription(crash, snapshotAtomicity('ebs.csi.aws.com')), { now: NOW });
    expect(ebs).toMatch(/^Restorable: +yes: crash-consistent \(atomic snapshots\)/m);
    expect(renderBackupDescription(backupDescription(details([snapshot('f', 'data', { mode: 'fenced' })])), { now: NOW })).toMatch(
      /^Restorable: +yes: a copy of a cleanly stopped database$/m,
    );
  });

  it("shows one cut: the instant recorded in dbaas.io/cut-at, in the text and -o json (list shows the same, list/run.test.ts); the driver's creationTime apart", () => {
    const object = snapshot('cut', 'data', { mode: 'fenced' });
    const driverTime = object.status!.creationTime!;
    const recorded = new Date(Date.parse(String(driverTime)) + 7_800).toISOString();
    object.metadata.annotations = { ...object.metadata.annotations, 'dbaas.io/cut-at': recorded };
    const view = backupDescription(details([object]));
    const text = renderBackupDescription(view, { now: NOW });
    expect(text).toMatch(new RegExp(`^ {4}Cut: +${recorded.replace(/\./g, '\\.')} \\(`, 'm'));
    expect(text).toMatch(/^ {4}Driver creation time: +\S+ \(status\.creationTime; not the cut\)$/m);
    expect(view.snapshots[0]!.cutAt).toBe(recorded);
  });
});
