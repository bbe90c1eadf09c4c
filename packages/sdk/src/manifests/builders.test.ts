import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLsn } from '../wal/lsn.js';
import {
  DEFAULT_RESOURCES,
  RESTORE_PREP_SCRIPT,
  backupSetNames,
  buildCrossNamespaceSnapshot,
  buildPvcFromSnapshot,
  buildPvcClone,
  buildRestorePrepJob,
  buildRelinkJob,
  postgresqlConfLines,
  buildVolumeSnapshot,
  containerResources,
  walFilesForBackup,
} from './builders.js';
import { readRestoreMetadata, readSnapshotMetadata, type SnapshotMetadata } from './metadata.js';

function thrown(fn: () => unknown): Error & { code?: string; fix?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

const requestedAt = new Date('2024-06-01T02:00:00Z');
const label =
  'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000080\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2024-06-01 02:00:00 UTC\nLABEL: nightly\nSTART TIMELINE: 1\n';

describe('buildVolumeSnapshot', () => {
  it('builds a VolumeSnapshot of a PVC with the metadata schema, readable back', () => {
    const vs = buildVolumeSnapshot({
      namespace: 'db',
      pvc: 'data-pg-0',
      snapshotClass: 'csi-hostpath-snapclass',
      metadata: { backupSet: 'nightly', role: 'data', mode: 'fenced', engine: 'postgres', engineVersion: '17.6', requestedAt },
      extra: { labels: { team: 'payments' }, annotations: { 'example.com/ticket': 'OPS-1' } },
    });
    expect(vs).toMatchObject({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'nightly', namespace: 'db' },
      spec: { source: { persistentVolumeClaimName: 'data-pg-0' }, volumeSnapshotClassName: 'csi-hostpath-snapclass' },
    });
    expect(vs.metadata.labels).toMatchObject({ team: 'payments', 'dbaas.io/backup-source': 'data-pg-0', 'dbaas.io/backup-type': 'volumesnapshot' });
    expect(vs.metadata.annotations?.['example.com/ticket']).toBe('OPS-1');
    const meta = readSnapshotMetadata(vs);
    expect(meta).toMatchObject({ backupSet: 'nightly', role: 'data', sourcePvc: 'data-pg-0', mode: 'fenced', engineVersion: '17.6' });
  });

  it('names the WAL snapshot <set>-wal and omits an unset class', () => {
    const vs = buildVolumeSnapshot({ namespace: 'db', pvc: 'data-pg-0', metadata: { backupSet: 'nightly', role: 'wal', mode: 'online', requestedAt } });
    expect(vs.metadata.name).toBe('nightly-wal');
    expect('volumeSnapshotClassName' in vs.spec).toBe(false);
    expect(backupSetNames('x')).toEqual({ data: 'x', wal: 'x-wal' });
  });

  it('refuses invalid names, too long sets, long PVC names and reserved extra keys', () => {
    const base = { namespace: 'db', pvc: 'data-pg-0', metadata: { backupSet: 'nightly', role: 'data' as const, mode: 'fenced' as const, requestedAt } };
    expect(thrown(() => buildVolumeSnapshot({ ...base, namespace: 'DB' })).code).toBe('INVALID_NAME');
    expect(thrown(() => buildVolumeSnapshot({ ...base, pvc: 'data_pg' })).code).toBe('INVALID_NAME');
    expect(thrown(() => buildVolumeSnapshot({ ...base, metadata: { ...base.metadata, backupSet: 'Nightly' } })).code).toBe('INVALID_NAME');
    const long = thrown(() => buildVolumeSnapshot({ ...base, metadata: { ...base.metadata, backupSet: 'a'.repeat(60) } }));
    expect(long.code).toBe('INVALID_NAME');
    expect(long.message).toContain('WAL snapshot name');
    // a valid PVC name of 64+ characters cannot be the value of dbaas.io/backup-source
    const longPvc = thrown(() => buildVolumeSnapshot({ ...base, pvc: 'p'.repeat(70) }));
    expect(longPvc.code).toBe('INVALID_NAME');
    expect(longPvc.message).toContain('dbaas.io/backup-source');
    expect(thrown(() => buildVolumeSnapshot({ ...base, snapshotClass: '' })).code).toBe('INVALID_NAME');
    expect(thrown(() => buildVolumeSnapshot({ ...base, extra: { labels: { 'dbaas.io/role': 'wal' } } })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildVolumeSnapshot({ ...base, extra: { labels: { team: 'a b' } } })).code).toBe('INVALID_NAME');
  });
});

describe('buildPvcFromSnapshot', () => {
  const snapshot = { name: 'nightly', restoreSize: '1Gi', driver: 'hostpath.csi.k8s.io' };

  it('defaults the size to restoreSize and points dataSource at the snapshot', () => {
    const pvc = buildPvcFromSnapshot({
      name: 'pg-restored',
      namespace: 'db',
      snapshot,
      storageClass: { name: 'csi-hostpath-sc', provisioner: 'hostpath.csi.k8s.io' },
    });
    expect(pvc).toEqual({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'pg-restored',
        namespace: 'db',
        labels: { 'app.kubernetes.io/managed-by': 'kubectl-dbaas', 'dbaas.io/restored-from': 'nightly', 'dbaas.io/restore-type': 'snapshot' },
        annotations: { 'dbaas.io/schema-version': '1' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'csi-hostpath-sc',
        resources: { requests: { storage: '1Gi' } },
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'nightly' },
      },
    });
    expect(readRestoreMetadata(pvc as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } })).toMatchObject({
      restoredFrom: 'nightly',
      restoreType: 'snapshot',
    });
  });

  it('accepts a larger size in any unit, access modes and volume mode', () => {
    const pvc = buildPvcFromSnapshot({
      name: 'r',
      namespace: 'db',
      snapshot,
      size: '1073741825',
      storageClass: 'sc',
      accessModes: ['ReadWriteOncePod'],
      volumeMode: 'Filesystem',
    });
    expect(pvc.spec?.resources?.requests?.storage).toBe('1073741825');
    expect(pvc.spec?.accessModes).toEqual(['ReadWriteOncePod']);
    expect(buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, size: '1024Mi', storageClass: 'sc' }).spec?.resources?.requests?.storage).toBe(
      '1024Mi',
    );
  });

  it('refuses a size below restoreSize before anything is created', () => {
    const e = thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, size: '1G', storageClass: 'sc' }));
    expect(e.code).toBe('RESTORE_SIZE_TOO_SMALL');
    expect(e.message).toBe('size 1G (1000000000 bytes) is below the restoreSize 1Gi (1073741824 bytes) of VolumeSnapshot "nightly"');
    expect(e.fix).toContain('at least 1Gi');
    expect(thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, size: '1073741823', storageClass: 'sc' })).code).toBe(
      'RESTORE_SIZE_TOO_SMALL',
    );
    expect(thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot: { ...snapshot, restoreSize: undefined }, storageClass: 'sc' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, size: '2 Gi', storageClass: 'sc' })).code).toBe('INVALID_QUANTITY');
    expect(
      thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot: { ...snapshot, restoreSize: '0' }, size: '0', storageClass: 'sc' })).code,
    ).toBe('INVALID_QUANTITY');
  });

  it('refuses a StorageClass of another driver, bad names, and cross-namespace without its source', () => {
    const e = thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, storageClass: { name: 'gp3', provisioner: 'ebs.csi.aws.com' } }));
    expect(e.code).toBe('STORAGE_CLASS_MISMATCH');
    expect(e.fix).toContain('hostpath.csi.k8s.io');
    expect(thrown(() => buildPvcFromSnapshot({ name: 'R', namespace: 'db', snapshot, storageClass: 'sc' })).code).toBe('INVALID_NAME');
    expect(thrown(() => buildPvcFromSnapshot({ name: 'r', namespace: 'db', snapshot, storageClass: 'sc', restoreType: 'cross-namespace' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    const x = buildPvcFromSnapshot({
      name: 'r',
      namespace: 'staging',
      snapshot,
      storageClass: 'sc',
      restoreType: 'cross-namespace',
      restoredFromNamespace: 'prod',
    });
    expect(x.metadata?.annotations?.['dbaas.io/restored-from-namespace']).toBe('prod');
  });
});

describe('buildCrossNamespaceSnapshot', () => {
  it('builds a Retain static content bound to a new snapshot in the target namespace, with the metadata carried over', () => {
    const meta: SnapshotMetadata = {
      schemaVersion: '1',
      backupSet: 'nightly',
      role: 'data',
      sourcePvc: 'data-pg-0',
      backupType: 'volumesnapshot',
      mode: 'fenced',
      requestedAt,
    };
    const { content, snapshot } = buildCrossNamespaceSnapshot({
      source: {
        snapshotHandle: '7c9e-handle',
        driver: 'hostpath.csi.k8s.io',
        sourceVolumeMode: 'Filesystem',
        snapshotClassName: 'csi-hostpath-snapclass',
        namespace: 'prod',
      },
      target: { namespace: 'staging', name: 'nightly' },
      metadata: meta,
    });
    expect(content).toEqual({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotContent',
      metadata: { name: 'dbaas-staging-nightly', labels: { 'app.kubernetes.io/managed-by': 'kubectl-dbaas' } },
      spec: {
        deletionPolicy: 'Retain',
        driver: 'hostpath.csi.k8s.io',
        source: { snapshotHandle: '7c9e-handle' },
        sourceVolumeMode: 'Filesystem',
        volumeSnapshotClassName: 'csi-hostpath-snapclass',
        volumeSnapshotRef: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', name: 'nightly', namespace: 'staging' },
      },
    });
    expect(snapshot.metadata).toMatchObject({ name: 'nightly', namespace: 'staging' });
    expect(snapshot.spec).toEqual({ source: { volumeSnapshotContentName: 'dbaas-staging-nightly' }, volumeSnapshotClassName: 'csi-hostpath-snapclass' });
    expect(readSnapshotMetadata(snapshot)).toEqual(meta);
    expect(snapshot.metadata.annotations?.['dbaas.io/restored-from-namespace']).toBe('prod');
  });

  it('refuses an empty handle and names that do not fit', () => {
    const source = { snapshotHandle: 'h', driver: 'd' };
    expect(thrown(() => buildCrossNamespaceSnapshot({ source: { ...source, snapshotHandle: '' }, target: { namespace: 'a', name: 'b' } })).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(thrown(() => buildCrossNamespaceSnapshot({ source, target: { namespace: 'a', name: 'b'.repeat(250) } })).code).toBe('INVALID_NAME');
    expect(thrown(() => buildCrossNamespaceSnapshot({ source, target: { namespace: 'A', name: 'b' } })).code).toBe('INVALID_NAME');
    expect(buildCrossNamespaceSnapshot({ source, target: { namespace: 'a', name: 'b' }, contentName: 'mine' }).content.metadata.name).toBe('mine');
  });
});

describe('walFilesForBackup', () => {
  it('lists the segments from the start LSN to the byte before the stop LSN', () => {
    expect(walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/4000100'), 1)).toEqual([
      '000000010000000000000002',
      '000000010000000000000003',
      '000000010000000000000004',
    ]);
    // a stop pointer on a segment boundary belongs to the previous segment
    expect(walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/3000000'), 1)).toEqual(['000000010000000000000002']);
    expect(walFilesForBackup(parseLsn('0/FF000028'), parseLsn('1/00000100'), 2)).toEqual(['0000000200000000000000FF', '000000020000000100000000']);
    expect(walFilesForBackup(parseLsn('0/2000028'), parseLsn('0/2000028'), 1)).toEqual(['000000010000000000000002']);
    expect(walFilesForBackup(parseLsn('0/4000028'), parseLsn('0/C000100'), 1, 64 * 1024 * 1024)).toEqual([
      '000000010000000000000001',
      '000000010000000000000002',
      '000000010000000000000003',
    ]);
    expect(thrown(() => walFilesForBackup(2n, 1n, 1)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('buildRestorePrepJob', () => {
  const input = {
    name: 'nightly-prep',
    namespace: 'db',
    image: 'postgres:17.6',
    dataPvc: 'pg-restored',
    walPvc: 'pg-restored-wal',
    walFiles: ['000000010000000000000003', '000000010000000000000002'],
    backupLabel: label,
    runAsUser: 999,
  };

  it('runs as the PostgreSQL uid, non-root, hardened, with the values in env only', () => {
    const job = buildRestorePrepJob(input);
    const pod = job.spec!.template.spec!;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0]!;
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(c.command).toEqual(['/bin/sh', '-ec', RESTORE_PREP_SCRIPT]);
    expect(c.image).toBe('postgres:17.6');
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(env.DBAAS_WAL_FILES).toBe('000000010000000000000002 000000010000000000000003');
    expect(Buffer.from(env.DBAAS_BACKUP_LABEL_B64!, 'base64').toString()).toBe(label);
    expect(pod.volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'pg-restored' } },
      { name: 'wal', persistentVolumeClaim: { claimName: 'pg-restored-wal', readOnly: true } },
    ]);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(job.spec).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 3600 });
    expect(job.metadata?.labels?.['app.kubernetes.io/component']).toBe('restore-prep');
    // image and command are parameters
    const custom = buildRestorePrepJob({ ...input, image: 'registry.example.com/pg@sha256:abc', command: ['/restore-prep'], fsGroup: 26, runAsUser: 26 });
    expect(custom.spec!.template.spec!.containers[0]!.command).toEqual(['/restore-prep']);
    expect(custom.spec!.template.spec!.securityContext).toMatchObject({ runAsUser: 26, fsGroup: 26, fsGroupChangePolicy: 'OnRootMismatch' });
  });

  it('refuses root, bad WAL names, path escapes, an empty WAL list and a non-label', () => {
    expect(thrown(() => buildRestorePrepJob({ ...input, runAsUser: 0 })).message).toContain('never runs as root');
    expect(thrown(() => buildRestorePrepJob({ ...input, walFiles: ['00000001000000000000000X'] })).code).toBe('INVALID_WAL_FILE_NAME');
    expect(thrown(() => buildRestorePrepJob({ ...input, walFiles: ['$(reboot)'] })).code).toBe('INVALID_WAL_FILE_NAME');
    expect(thrown(() => buildRestorePrepJob({ ...input, walFiles: [] })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildRestorePrepJob({ ...input, dataSubPath: '../etc' })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildRestorePrepJob({ ...input, dataSubPath: '/abs' })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildRestorePrepJob({ ...input, backupLabel: 'hello' })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildRestorePrepJob({ ...input, walPvc: 'pg-restored' })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => buildRestorePrepJob({ ...input, name: 'x'.repeat(64) })).code).toBe('INVALID_NAME');
  });
});

describe('containerResources: requests and limits on every container the tool creates', () => {
  it('the defaults set all four fields (a quota on limits.cpu or limits.memory admits the pod)', () => {
    for (const d of Object.values(DEFAULT_RESOURCES)) {
      const r = containerResources(d, undefined, 'resources');
      expect(Object.keys(r.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(r.limits).sort()).toEqual(['cpu', 'memory']);
    }
    const job = buildRestorePrepJob({
      name: 'p',
      namespace: 'db',
      image: 'postgres:17',
      dataPvc: 'a',
      walPvc: 'b',
      walFiles: ['000000010000000000000002'],
      backupLabel: label,
      runAsUser: 999,
    });
    expect(job.spec!.template.spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '50m', memory: '32Mi' },
      limits: { cpu: '500m', memory: '128Mi' },
    });
  });

  it('given fields replace defaults one by one; a default limit below a raised request is raised to it', () => {
    expect(containerResources(DEFAULT_RESOURCES.server, { requests: { memory: '2Gi' }, limits: { cpu: '4' } }, 'resources')).toEqual({
      requests: { cpu: '100m', memory: '2Gi' },
      limits: { cpu: '4', memory: '2Gi' },
    });
  });

  it('refuses a limit given below its request, and what is not a positive quantity, naming the option', () => {
    const low = thrown(() =>
      containerResources(DEFAULT_RESOURCES.server, { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } }, 'resources'),
    ) as ReturnType<typeof thrown> & { option?: string };
    expect(low.code).toBe('INVALID_ARGUMENT');
    expect(low.message).toBe('resources: the memory request 2Gi is above its limit 1Gi');
    expect(low.fix).toBe('Raise limits.memory to at least 2Gi, or lower requests.memory.');
    expect(low.option).toBe('resources');
    for (const bad of ['lots', '0', '-1']) {
      const e = thrown(() => containerResources(DEFAULT_RESOURCES.inspect, { limits: { cpu: bad } }, 'resources'));
      expect(e.code).toBe('INVALID_QUANTITY');
      expect(e.message).toBe(`resources.limits.cpu "${bad}" is not a positive Kubernetes quantity`);
    }
  });
});

describe('RESTORE_PREP_SCRIPT (run with /bin/sh on real directories)', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function layout(): { data: string; src: string } {
    dir = mkdtempSync(path.join(tmpdir(), 'dbaas-prep-'));
    const data = path.join(dir, 'data', 'pgdata');
    const src = path.join(dir, 'wal', 'pgdata', 'pg_wal');
    mkdirSync(path.join(data, 'pg_wal'), { recursive: true });
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(data, 'PG_VERSION'), '17\n');
    // the data snapshot's copy of segment 2 is torn (shorter); the WAL snapshot's is complete
    writeFileSync(path.join(data, 'pg_wal', '000000010000000000000002'), 'torn');
    writeFileSync(path.join(src, '000000010000000000000002'), 'segment-2-complete');
    writeFileSync(path.join(src, '000000010000000000000003'), 'segment-3');
    writeFileSync(path.join(src, '000000010000000000000004'), 'segment-4-not-needed');
    writeFileSync(path.join(src, '00000002.history'), '1\t0/3000000\tno recovery target specified\n');
    return { data, src };
  }

  function run(job: ReturnType<typeof buildRestorePrepJob>) {
    const c = job.spec!.template.spec!.containers[0]!;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', DBAAS_ROOT: dir };
    for (const e of c.env ?? []) env[e.name] = e.value ?? '';
    return spawnSync(c.command![0]!, c.command!.slice(1), { env, encoding: 'utf8' });
  }

  const jobInput = (over: Partial<Parameters<typeof buildRestorePrepJob>[0]> = {}): Parameters<typeof buildRestorePrepJob>[0] => ({
    name: 'p',
    namespace: 'db',
    image: 'postgres:17',
    dataPvc: 'd',
    walPvc: 'w',
    dataSubPath: 'pgdata',
    walFiles: ['000000010000000000000002', '000000010000000000000003'],
    backupLabel: label,
    tablespaceMap: '16384 /mnt/ts1\n',
    runAsUser: 999,
    ...over,
  });
  const job = (over: Partial<Parameters<typeof buildRestorePrepJob>[0]> = {}) => buildRestorePrepJob(jobInput(over));

  it('copies exactly the listed segments over torn ones and writes backup_label and tablespace_map (0600)', () => {
    const { data } = layout();
    const r = run(job());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('copied 2 WAL segment(s), wrote backup_label and tablespace_map');
    expect(readFileSync(path.join(data, 'pg_wal', '000000010000000000000002'), 'utf8')).toBe('segment-2-complete');
    expect(readFileSync(path.join(data, 'pg_wal', '000000010000000000000003'), 'utf8')).toBe('segment-3');
    expect(readdirSync(path.join(data, 'pg_wal')).sort()).toEqual(['000000010000000000000002', '000000010000000000000003', '00000002.history']);
    expect(readFileSync(path.join(data, 'backup_label'), 'utf8')).toBe(label);
    expect(readFileSync(path.join(data, 'tablespace_map'), 'utf8')).toBe('16384 /mnt/ts1\n');
    expect(statSync(path.join(data, 'backup_label')).mode & 0o777).toBe(0o600);
    expect(readdirSync(data).filter((f) => f.includes('dbaas-tmp'))).toEqual([]);
    // idempotent: a second run (Job retry) succeeds
    expect(run(job()).status).toBe(0);
  });

  it("pg_wal's own volume (walVolumeMountPath): follows the link into the restored WAL volume, checks every segment is there, copies none", () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbaas-prep-'));
    const data = path.join(dir, 'data', 'pgdata');
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, 'PG_VERSION'), '17\n');
    const walDir = path.join(dir, 'wal', 'pg_wal');
    mkdirSync(walDir, { recursive: true });
    writeFileSync(path.join(walDir, '000000010000000000000002'), 'segment-2');
    writeFileSync(path.join(walDir, '000000010000000000000003'), 'segment-3');
    // As the source pod had it: an absolute link to where its container mounted the WAL volume.
    symlinkSync('/var/lib/postgresql/wal/pg_wal', path.join(data, 'pg_wal'));
    const withoutMap = (walVolumeMountPath: string) => {
      const { tablespaceMap: _none, ...input } = jobInput({ walVolumeMountPath });
      return buildRestorePrepJob(input);
    };
    const inPlace = withoutMap('/var/lib/postgresql/wal');
    const env = inPlace.spec!.template.spec!.containers[0]!.env!;
    expect(env).toContainEqual({ name: 'DBAAS_WAL_VOLUME_MOUNT', value: '/var/lib/postgresql/wal' });
    expect(env.map((e) => e.name)).not.toContain('DBAAS_WAL_SUBPATH');
    const r = run(inPlace);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`dbaas-restore-prep: found 2 WAL segment(s) in the WAL volume, wrote backup_label in ${data}\n`);
    expect(lstatSync(path.join(data, 'pg_wal')).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(data, 'backup_label'), 'utf8')).toBe(label);
    // A missing segment is named before PostgreSQL would stop on it; a link elsewhere is refused.
    rmSync(path.join(walDir, '000000010000000000000003'));
    expect(run(inPlace).stderr).toContain('WAL segment 000000010000000000000003 is missing from the WAL volume');
    expect(run(withoutMap('/elsewhere')).stderr).toContain("pg_wal links to /var/lib/postgresql/wal/pg_wal, outside the WAL volume's mount /elsewhere");
    expect(() => job({ walVolumeMountPath: 'relative' })).toThrow(/not a normalised absolute path/);
  });

  it("relinks: the links into a volume's old mount path (pg_wal, pg_tblspc/*) re-pointed to its new one; a relink-only Job mounts the data volume alone", () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbaas-prep-'));
    const data = path.join(dir, 'data', 'pgdata');
    mkdirSync(path.join(data, 'pg_tblspc'), { recursive: true });
    writeFileSync(path.join(data, 'PG_VERSION'), '17\n');
    symlinkSync('/var/lib/postgresql/wal/pg_wal', path.join(data, 'pg_wal'));
    symlinkSync('/var/lib/postgresql/tablespaces/ts', path.join(data, 'pg_tblspc', '16384'));
    symlinkSync('/elsewhere/ts2', path.join(data, 'pg_tblspc', '16385'));
    const relink = buildRelinkJob({
      name: 'r',
      namespace: 'db',
      image: 'postgres:17',
      dataPvc: 'd',
      dataSubPath: 'pgdata',
      runAsUser: 999,
      relinks: [
        { from: '/var/lib/postgresql/wal', to: '/pg/wal' },
        { from: '/var/lib/postgresql/tablespaces', to: '/pg/tbs' },
      ],
    });
    expect(relink.spec!.template.spec!.volumes!.map((v) => v.name)).toEqual(['data']);
    const r = run(relink);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`dbaas-restore-prep: re-pointed 2 link(s) in ${data}\n`);
    expect(readlinkSync(path.join(data, 'pg_wal'))).toBe('/pg/wal/pg_wal');
    expect(readlinkSync(path.join(data, 'pg_tblspc', '16384'))).toBe('/pg/tbs/ts');
    expect(readlinkSync(path.join(data, 'pg_tblspc', '16385'))).toBe('/elsewhere/ts2');
    // Again (a Job retry): nothing left to re-point, nothing broken.
    expect(run(relink).stdout).toBe(`dbaas-restore-prep: re-pointed 0 link(s) in ${data}\n`);
    expect(() =>
      buildRelinkJob({ name: 'r', namespace: 'db', image: 'postgres:17', dataPvc: 'd', runAsUser: 999, relinks: [{ from: '/a b', to: '/c' }] }),
    ).toThrow(/not a normalised absolute path/);
    expect(() => buildRelinkJob({ name: 'r', namespace: 'db', image: 'postgres:17', dataPvc: 'd', runAsUser: 999, relinks: [] })).toThrow(/nothing to do/);
  });

  it("a CloudNativePG instance's copy for a plain server: the settings appended to postgresql.conf once, standby.signal removed; in the online Job too", () => {
    const { data } = layout();
    const cnpgConf = "# initdb's\ninclude 'custom.conf'\ninclude 'override.conf'\n";
    writeFileSync(path.join(data, 'postgresql.conf'), cnpgConf);
    writeFileSync(path.join(data, 'standby.signal'), '');
    const settings = { ssl: 'off', unix_socket_directories: '/var/run/postgresql, /tmp', archive_command: "it's" };
    const plain = buildRelinkJob({
      name: 'p',
      namespace: 'db',
      image: 'pg:15',
      dataPvc: 'd',
      dataSubPath: 'pgdata',
      runAsUser: 26,
      plainServerSettings: settings,
    });
    const block = `${postgresqlConfLines(settings)}\n`;
    expect(block).toBe(
      "# kubectl-dbaas restore: CloudNativePG's settings turned off for a plain PostgreSQL server (docs/cnpg.md)\nssl = 'off'\nunix_socket_directories = '/var/run/postgresql, /tmp'\narchive_command = 'it''s'\n",
    );
    const r = run(plain);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`dbaas-restore-prep: re-pointed 0 link(s), turned CloudNativePG's settings off for a plain server in ${data}\n`);
    expect(readFileSync(path.join(data, 'postgresql.conf'), 'utf8')).toBe(`${cnpgConf}\n${block}`);
    expect(readdirSync(data)).not.toContain('standby.signal');
    expect(run(plain).status, 'a retried Job').toBe(0);
    expect(readFileSync(path.join(data, 'postgresql.conf'), 'utf8'), 'appended once').toBe(`${cnpgConf}\n${block}`);

    writeFileSync(path.join(data, 'postgresql.conf'), cnpgConf);
    writeFileSync(path.join(data, 'standby.signal'), '');
    const online = run(job({ plainServerSettings: settings }));
    expect(online.stdout).toContain("wrote backup_label and tablespace_map, turned CloudNativePG's settings off for a plain server");
    expect(readFileSync(path.join(data, 'postgresql.conf'), 'utf8')).toBe(`${cnpgConf}\n${block}`);
    expect(readdirSync(data)).not.toContain('standby.signal');
    expect(() => postgresqlConfLines({ 'bad name': 'x' })).toThrow(/not a PostgreSQL setting name/);
    expect(() => postgresqlConfLines({ ssl: 'off\nfsync = off' })).toThrow(/line break/);
  });

  it('without a data subpath finds PGDATA as verify does: the one subdirectory holding PG_VERSION (PGDATA=/var/lib/postgresql/data/pgdata), or the root', () => {
    const { data } = layout();
    const auto = job({ dataSubPath: undefined });
    expect(auto.spec!.template.spec!.containers[0]!.env!.map((e) => e.name)).not.toContain('DBAAS_DATA_SUBPATH');
    const r = run(auto);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`wrote backup_label and tablespace_map in ${data}`);
    expect(readFileSync(path.join(data, 'pg_wal', '000000010000000000000002'), 'utf8')).toBe('segment-2-complete');
    // Two candidates: refused, naming both.
    mkdirSync(path.join(dir, 'data', 'other'));
    writeFileSync(path.join(dir, 'data', 'other', 'PG_VERSION'), '16\n');
    expect(run(auto).stderr).toMatch(/holds several data directories \((other, pgdata|pgdata, other)\): pass the data subpath/);
    // None: refused, saying where it looked.
    rmSync(path.join(dir, 'data'), { recursive: true });
    mkdirSync(path.join(dir, 'data'));
    expect(run(auto).stderr).toContain(`no PG_VERSION in ${dir}/data or one level below`);
    // An explicit '' is the root, not a search.
    expect(run(job({ dataSubPath: '' })).stderr).toContain(`no PG_VERSION in ${dir}/data: not a PostgreSQL data directory`);
  });

  it('a data directory the Job\'s uid cannot enter is a permission problem, not "no PG_VERSION"', () => {
    const { data } = layout();
    // The Job runs as a uid other than the files' owner: as root, run the script as nobody with the
    // data directory root's 0700; as anyone else, take the owner's own access away (0000).
    const asRoot = process.getuid?.() === 0;
    for (const d of [dir, path.join(dir, 'data'), path.join(dir, 'wal'), path.join(dir, 'wal', 'pgdata')]) chmodSync(d, 0o755);
    chmodSync(data, asRoot ? 0o700 : 0o000);
    try {
      for (const over of [{}, { dataSubPath: undefined }]) {
        const c = job(over).spec!.template.spec!.containers[0]!;
        const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', DBAAS_ROOT: dir };
        for (const e of c.env ?? []) env[e.name] = e.value ?? '';
        const command = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...c.command!] : c.command!;
        const r = spawnSync(command[0]!, command.slice(1), { env, encoding: 'utf8' });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `permission denied: ${data} is not readable by uid \\d+ \\(it belongs to uid \\d+, mode [0-7]+\\): run the Job as the data directory's owner`,
          ),
        );
        expect(r.stderr).not.toContain('no PG_VERSION');
      }
    } finally {
      chmodSync(data, 0o755);
    }
  });

  it('fails, naming the segment, when the WAL snapshot lacks one', () => {
    layout();
    const r = run(job({ walFiles: ['000000010000000000000002', '000000010000000000000005'] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('WAL segment 000000010000000000000005 is missing');
    expect(r.stderr).toContain('WAL ends before end of online backup');
  });

  it('refuses a foreign backup_label, a non-data directory and a symlinked pg_wal', () => {
    const { data } = layout();
    writeFileSync(path.join(data, 'backup_label'), 'START WAL LOCATION: 0/9000028 (file 000000010000000000000009)\n');
    const r = run(job());
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('backup_label exists with different content');
    rmSync(path.join(data, 'backup_label'));
    rmSync(path.join(data, 'PG_VERSION'));
    expect(run(job()).stderr).toContain('not a PostgreSQL data directory');
    writeFileSync(path.join(data, 'PG_VERSION'), '17\n');
    rmSync(path.join(data, 'pg_wal'), { recursive: true });
    symlinkSync('/tmp', path.join(data, 'pg_wal'));
    expect(run(job()).stderr).toContain('is a symbolic link');
  });
});

describe('buildPvcClone', () => {
  const source = {
    metadata: { name: 'restored', namespace: 'db' },
    spec: { storageClassName: 'fast', accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem', resources: { requests: { storage: '1Gi' } } },
    status: { phase: 'Bound', capacity: { storage: '2Gi' } },
  };

  it('clones in the same namespace and class, at the capacity of the source, labelled as ours', () => {
    const clone = buildPvcClone({ name: 'verify-restored-abc123', source, component: 'verify-clone' });
    expect(clone.metadata).toEqual({
      name: 'verify-restored-abc123',
      namespace: 'db',
      labels: { 'app.kubernetes.io/managed-by': 'kubectl-dbaas', 'app.kubernetes.io/component': 'verify-clone' },
    });
    expect(clone.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast',
      volumeMode: 'Filesystem',
      resources: { requests: { storage: '2Gi' } },
      dataSource: { kind: 'PersistentVolumeClaim', name: 'restored' },
    });
  });

  it('binds for a node when one is given (WaitForFirstConsumer classes)', () => {
    const clone = buildPvcClone({ name: 'c', source, component: 'verify-clone', bindToNode: 'node-1' });
    expect(clone.metadata?.annotations).toEqual({ 'volume.kubernetes.io/selected-node': 'node-1' });
  });

  it('refuses a source that is not Bound, or has no StorageClass to clone in', () => {
    expect(() => buildPvcClone({ name: 'c', source: { ...source, status: { phase: 'Pending' } }, component: 'x' })).toThrow(/is Pending: only a Bound volume/);
    expect(() => buildPvcClone({ name: 'c', source: { ...source, spec: { ...source.spec, storageClassName: '' } }, component: 'x' })).toThrow(
      /has no StorageClass/,
    );
  });
});
