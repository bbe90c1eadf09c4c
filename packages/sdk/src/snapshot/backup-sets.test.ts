import { describe, expect, it } from 'vitest';
import type { VolumeSnapshot } from '../kube/snapshot-types.js';
import { buildVolumeSnapshot } from '../manifests/builders.js';
import { DBAAS_ANNOTATIONS } from '../manifests/metadata.js';
import { snapshotAtomicity } from '../manifests/atomicity.js';
import { backupSetRestorability, groupBackupSets, snapshotState, summarizeSnapshot } from './backup-sets.js';

function vs(
  set: string,
  role: 'data' | 'wal',
  requestedAt: string,
  extra: Partial<VolumeSnapshot['metadata']> = {},
  status?: VolumeSnapshot['status'],
  ns = 'db',
): VolumeSnapshot {
  const o = buildVolumeSnapshot({ namespace: ns, pvc: 'data-pg-0', metadata: { backupSet: set, role, mode: 'online', requestedAt: new Date(requestedAt) } });
  o.metadata = { ...o.metadata, ...extra };
  if (status) o.status = status;
  return o;
}

function group(items: VolumeSnapshot[]) {
  return groupBackupSets(
    items.map(summarizeSnapshot),
    items.map((o) => o.metadata.labels?.['dbaas.io/backup-set']),
  );
}

describe('snapshotState', () => {
  it('ready beats a stale error, error beats pending', () => {
    expect(snapshotState(undefined)).toBe('pending');
    expect(snapshotState({ readyToUse: false })).toBe('pending');
    expect(snapshotState({ readyToUse: false, error: { message: 'boom' } })).toBe('error');
    expect(snapshotState({ readyToUse: true, error: { message: 'old' } })).toBe('ready');
  });
});

describe('groupBackupSets', () => {
  it('groups data and -wal by dbaas.io/backup-set, sorts newest first by requested time', () => {
    const sets = group([
      vs('a', 'wal', '2026-01-01T00:00:00Z', {}, { readyToUse: true }),
      vs('b', 'data', '2026-01-03T00:00:00Z', {}, { readyToUse: true }),
      vs('a', 'data', '2026-01-01T00:00:00Z', {}, { readyToUse: true }),
      vs('c', 'data', '2026-01-02T00:00:00Z', {}, { readyToUse: false, error: { message: 'cannot get claim from snapshot' } }),
      vs('c', 'wal', '2026-01-02T00:00:00Z'),
    ]);
    expect(sets.map((s) => s.name)).toEqual(['b', 'c', 'a']);
    const a = sets[2]!;
    expect(a.data?.name).toBe('a');
    expect(a.wal?.name).toBe('a-wal');
    expect(a.snapshots.map((s) => s.role)).toEqual(['data', 'wal']);
    expect(a.state).toBe('ready');
    expect(a.timeSource).toBe('requested-at');
    expect(a.missingWal).toBe(false);
    expect(sets[0]!.missingWal).toBe(true); // online set b has no -wal snapshot
    expect(sets[1]!.state).toBe('error');
    expect(sets[1]!.error).toBe('cannot get claim from snapshot');
  });

  it('keeps sets of the same name in different namespaces apart; ties sort by namespace then name', () => {
    const sets = group([vs('x', 'data', '2026-01-01T00:00:00Z', {}, undefined, 'ns2'), vs('x', 'data', '2026-01-01T00:00:00Z', {}, undefined, 'ns1')]);
    expect(sets.map((s) => `${s.namespace}/${s.name}`)).toEqual(['ns1/x', 'ns2/x']);
    expect(sets[0]!.state).toBe('pending');
  });

  it('lists a snapshot whose metadata does not parse with metadataError, timed by creationTimestamp', () => {
    const bad = vs('bad', 'data', '2026-01-01T00:00:00Z', { creationTimestamp: new Date('2026-02-01T00:00:00Z') });
    bad.metadata.annotations![DBAAS_ANNOTATIONS.stopLsn] = 'not-an-lsn';
    const future = vs('future', 'data', '2026-01-01T00:00:00Z', { creationTimestamp: new Date('2025-01-01T00:00:00Z') });
    future.metadata.annotations![DBAAS_ANNOTATIONS.schemaVersion] = '9';
    const sets = group([bad, future, vs('ok', 'data', '2026-01-15T00:00:00Z')]);
    expect(sets.map((s) => s.name)).toEqual(['bad', 'ok', 'future']);
    expect(sets[0]!.metadataError).toMatch(/^bad: .*stop-lsn/);
    expect(sets[0]!.timeSource).toBe('creationTimestamp');
    expect(sets[0]!.managed).toBe(true);
    expect(sets[2]!.metadataError).toMatch(/schema version "9"/);
  });

  it('an unmanaged snapshot is its own set, managed false, no metadata parsed', () => {
    const foreign: VolumeSnapshot = {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'theirs', namespace: 'db', creationTimestamp: new Date('2026-01-05T00:00:00Z') },
      spec: { source: { persistentVolumeClaimName: 'p' } },
    };
    const [s] = group([foreign]);
    expect(s).toMatchObject({ name: 'theirs', managed: false, timeSource: 'creationTimestamp', sourcePvc: 'p' });
    expect(s!.metadataError).toBeUndefined();
    expect(s!.data?.metadata).toBeUndefined();
  });

  it("the cut is the instant kubectl-dbaas recorded (dbaas.io/cut-at), not the driver's status.creationTime; without the annotation, creationTime", () => {
    const recorded = vs(
      'b',
      'data',
      '2026-01-01T00:00:00Z',
      {},
      { readyToUse: true, creationTime: '2026-01-01T00:00:01.000Z', boundVolumeSnapshotContentName: 'c' },
    );
    recorded.metadata.annotations = { ...recorded.metadata.annotations, [DBAAS_ANNOTATIONS.cutAt]: '2026-01-01T00:00:08.800Z' };
    const s = summarizeSnapshot(recorded);
    expect(s.cutAt?.toISOString()).toBe('2026-01-01T00:00:08.800Z');
    expect(s.metadata?.cutAt?.toISOString()).toBe('2026-01-01T00:00:08.800Z');
    expect(s.storageCreationTime?.toISOString()).toBe('2026-01-01T00:00:01.000Z');
    const unrecorded = summarizeSnapshot(vs('c', 'data', '2026-01-01T00:00:00Z', {}, { readyToUse: true, creationTime: '2026-01-01T00:00:01.000Z' }));
    expect(unrecorded.cutAt?.toISOString()).toBe('2026-01-01T00:00:01.000Z');
  });
});

describe('backupSetRestorability', () => {
  const ready = { missingWal: false, state: 'ready' } as const;

  it('online needs its -wal snapshot; fenced is a clean copy; pending, failed and unparsable sets say so', () => {
    expect(backupSetRestorability({ ...ready, mode: 'online' })).toEqual({
      restorable: 'yes',
      why: 'with its -wal snapshot (backup_label and the WAL to the stop LSN)',
    });
    expect(backupSetRestorability({ ...ready, mode: 'online', missingWal: true }).restorable).toBe('no');
    expect(backupSetRestorability({ ...ready, mode: 'fenced' })).toEqual({ restorable: 'yes', why: 'a copy of a cleanly stopped database' });
    expect(backupSetRestorability({ ...ready, mode: 'fenced', state: 'pending' }).restorable).toBe('not-yet');
    expect(backupSetRestorability({ ...ready, mode: 'fenced', state: 'error' })).toEqual({ restorable: 'no', why: 'a snapshot failed (see its error)' });
    expect(backupSetRestorability({ ...ready, mode: 'fenced', metadataError: 'bad' }).restorable).toBe('unknown');
    expect(backupSetRestorability(ready).restorable).toBe('unknown');
  });

  it('a crash or checkpoint copy is only as good as the atomicity of the driver, and never names a CLI flag', () => {
    const torn = backupSetRestorability({ ...ready, mode: 'crash' }, snapshotAtomicity('hostpath.csi.k8s.io'));
    expect(torn.restorable).toBe('not-guaranteed');
    expect(torn.why).toMatch(/^a crash copy on hostpath\.csi\.k8s\.io, whose snapshots are not atomic .* may be torn$/);
    expect(torn.why).not.toContain('--');
    expect(backupSetRestorability({ ...ready, mode: 'checkpoint' }, snapshotAtomicity('ebs.csi.aws.com')).restorable).toBe('yes');
    expect(backupSetRestorability({ ...ready, mode: 'crash' }).restorable).toBe('unknown');
  });
});

describe('a set of several volumes (pg_wal or tablespaces on other PVCs)', () => {
  const requestedAt = new Date('2026-02-01T00:00:00Z');
  const data = (setVolumes: string[]) =>
    buildVolumeSnapshot({
      namespace: 'db',
      pvc: 'data-pg-0',
      metadata: { backupSet: 's', role: 'data', mode: 'fenced', requestedAt, setVolumes, volume: 'data', mountPath: '/var/lib/postgresql/data' },
    });
  const member = (volume: string, holds: 'wal' | 'tablespace', mountPath: string) =>
    buildVolumeSnapshot({
      namespace: 'db',
      pvc: `${volume}-pg-0`,
      metadata: { backupSet: 's', role: 'volume', mode: 'fenced', requestedAt, volume, holds, mountPath },
    });
  const ready = (o: VolumeSnapshot) => ({ ...o, status: { readyToUse: true } });

  it('the other volumes are named <set>-vol-<volume>, listed after data, and the set is restorable only with every one the data snapshot lists', () => {
    const wal = member('wal', 'wal', '/var/lib/postgresql/wal');
    expect(wal.metadata.name).toBe('s-vol-wal');
    expect(wal.metadata.annotations?.[DBAAS_ANNOTATIONS.mountPath]).toBe('/var/lib/postgresql/wal');
    const [whole] = group([ready(member('tbs', 'tablespace', '/tbs')), ready(wal), ready(data(['wal', 'tbs']))]);
    expect(whole!.snapshots.map((s) => [s.role, s.name])).toEqual([
      ['data', 's'],
      ['volume', 's-vol-tbs'],
      ['volume', 's-vol-wal'],
    ]);
    expect(whole!.volumes.map((v) => v.metadata?.volume)).toEqual(['tbs', 'wal']);
    expect(whole!.missingVolumes).toEqual([]);
    expect(backupSetRestorability(whole!).restorable).toBe('yes');
    const [partial] = group([ready(wal), ready(data(['wal', 'tbs']))]);
    expect(partial!.missingVolumes).toEqual(['tbs']);
    expect(backupSetRestorability(partial!)).toEqual({
      restorable: 'no',
      why: "the snapshot of volume tbs of this set is missing (the data directory's links into it would point nowhere)",
    });
  });

  it('a volume snapshot must say which volume it is, what it holds and where it was mounted', () => {
    expect(() =>
      buildVolumeSnapshot({
        namespace: 'db',
        pvc: 'wal-pg-0',
        metadata: { backupSet: 's', role: 'volume', mode: 'fenced', requestedAt, volume: 'wal', holds: 'wal' },
      }),
    ).toThrow(/volume name, what it holds and its mount path/);
    expect(() =>
      buildVolumeSnapshot({
        namespace: 'db',
        pvc: 'wal-pg-0',
        metadata: { backupSet: 's', role: 'volume', mode: 'fenced', requestedAt, volume: 'wal', holds: 'wal', mountPath: 'relative/wal' },
      }),
    ).toThrow(/absolute path/);
  });
});
