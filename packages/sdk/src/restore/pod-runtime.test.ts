import { describe, expect, it } from 'vitest';
import { isDbaasError, type DbaasError } from '../errors.js';
import { buildScratchPod, podVerifyRuntime } from './pod-runtime.js';
import { chooseDataSubPath, SCRATCH_SERVER_SETTINGS } from './verify.js';

const base = { name: 'pg-restored-verify-pg', namespace: 'db', pvc: 'pg-restored', image: 'postgres:17', runAsUser: 999, dataSubPath: '' };

describe('buildScratchPod', () => {
  it('requests and limits on both pods: the defaults, or the ones given', () => {
    expect(buildScratchPod({ ...base, role: 'server' }).spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
    expect(buildScratchPod({ ...base, role: 'inspect' }).spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
    expect(buildScratchPod({ ...base, role: 'server', resources: { limits: { memory: '4Gi' } } }).spec!.containers[0]!.resources?.limits).toEqual({
      cpu: '2',
      memory: '4Gi',
    });
    // The copy's own shared_buffers may not fit the limit: 128MB unless a setting says otherwise.
    expect(buildScratchPod({ ...base, role: 'server', settings: { shared_buffers: '512MB' } }).spec!.containers[0]!.command!.slice(4)).toEqual([
      '-c',
      'shared_buffers=512MB',
    ]);
    expect(buildScratchPod({ ...base, role: 'inspect', nodeSelector: { 'topology.kubernetes.io/zone': 'a' } }).spec!.nodeSelector).toEqual({
      'topology.kubernetes.io/zone': 'a',
    });
    const badSelector = (() => {
      try {
        buildScratchPod({ ...base, role: 'inspect', nodeSelector: { 'bad key!': 'a' } });
      } catch (e) {
        return e as DbaasError;
      }
      throw new Error('expected an error');
    })();
    expect(badSelector.code).toBe('INVALID_NAME');
    expect(badSelector.option).toBe('nodeSelector');
    const prep = podVerifyRuntime({ resources: { prep: { limits: { memory: '256Mi' } } } }).prepOptions!(17);
    expect(prep.resources).toEqual({ limits: { memory: '256Mi' } });
    // The image: the runtime's own, else the source's (a CloudNativePG Cluster's), else the official one.
    expect(podVerifyRuntime().prepOptions!(15, { runAsUser: 26, image: 'localhost/cnpg-postgresql:15' }).image).toBe('localhost/cnpg-postgresql:15');
    expect(podVerifyRuntime({ image: (m) => `mine:${m}` }).prepOptions!(15, { image: 'localhost/cnpg-postgresql:15' }).image).toBe('mine:15');
    expect(podVerifyRuntime().prepOptions!(15).image).toBe('postgres:15');
  });

  it('server: PostgreSQL on the volume, loopback only, settings as separate -c arguments, hardened', () => {
    const pod = buildScratchPod({ ...base, role: 'server', dataSubPath: 'pgdata', settings: { ...SCRATCH_SERVER_SETTINGS } });
    const c = pod.spec!.containers[0]!;
    expect(c.command!.slice(0, 2)).toEqual(['/bin/sh', '-ec']);
    expect(c.command![2]).toContain('-c listen_addresses=127.0.0.1');
    expect(c.command![2]).toContain('"$@"');
    expect(c.command!.slice(4)).toEqual([
      '-c',
      'shared_buffers=128MB',
      '-c',
      'archive_mode=off',
      '-c',
      'archive_command=',
      '-c',
      'restore_command=',
      '-c',
      'primary_conninfo=',
      '-c',
      'primary_slot_name=',
      '-c',
      'synchronous_standby_names=',
      '-c',
      'ssl=off',
      '-c',
      'logging_collector=off',
      '-c',
      'log_destination=stderr',
      '-c',
      'recovery_target_action=promote',
    ]);
    expect(c.env).toEqual([{ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' }]);
    expect(c.readinessProbe?.exec?.command).toEqual(['pg_isready', '-h', '127.0.0.1', '-p', '5432']);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 999 });
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
    expect(pod.spec!.volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'pg-restored' } },
      { name: 'tmp', emptyDir: {} },
    ]);
  });

  it("a standby's copy: the server script removes standby.signal only when told to, before postgres starts", () => {
    const standby = buildScratchPod({ ...base, role: 'server', dataSubPath: 'pgdata', leaveStandby: true }).spec!.containers[0]!;
    expect(standby.env).toContainEqual({ name: 'DBAAS_LEAVE_STANDBY', value: '1' });
    const script = standby.command![2]!;
    expect(script.indexOf('rm -f "$PGDATA/standby.signal"')).toBeGreaterThan(-1);
    expect(script.indexOf('rm -f "$PGDATA/standby.signal"')).toBeLessThan(script.indexOf('exec postgres'));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's own parameter expansion
    expect(script).toContain('if [ "${DBAAS_LEAVE_STANDBY:-}" = 1 ]');
    const primary = buildScratchPod({ ...base, role: 'server', dataSubPath: 'pgdata' }).spec!.containers[0]!;
    expect(primary.env!.map((e) => e.name)).toEqual(['PGDATA']);
  });

  it('inspect: the volume read-only, no server', () => {
    const pod = buildScratchPod({ ...base, role: 'inspect', name: 'pg-restored-inspect' });
    const c = pod.spec!.containers[0]!;
    expect(c.readinessProbe).toBeUndefined();
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/dbaas/volume', readOnly: true });
    expect(pod.spec!.volumes![0]).toEqual({ name: 'data', persistentVolumeClaim: { claimName: 'pg-restored', readOnly: true } });
  });

  it('a set of several volumes: data where the source pod had it, the others at their mount paths (read-only to inspect), so the links resolve', () => {
    const set = { dataMountPath: '/pg/data', volumes: [{ pvc: 'pg-restored-wal', mountPath: '/pg/wal' }] };
    const server = buildScratchPod({ ...base, role: 'server', dataSubPath: 'pgdata', set });
    const c = server.spec!.containers[0]!;
    expect(c.env).toContainEqual({ name: 'PGDATA', value: '/pg/data/pgdata' });
    expect(c.volumeMounts).toEqual([
      { name: 'data', mountPath: '/pg/data' },
      { name: 'set-0', mountPath: '/pg/wal' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(server.spec!.volumes).toContainEqual({ name: 'set-0', persistentVolumeClaim: { claimName: 'pg-restored-wal' } });
    const inspect = buildScratchPod({ ...base, role: 'inspect', name: 'pg-restored-inspect', set });
    expect(inspect.spec!.containers[0]!.volumeMounts).toContainEqual({ name: 'set-0', mountPath: '/pg/wal', readOnly: true });
    expect(inspect.spec!.volumes).toContainEqual({ name: 'set-0', persistentVolumeClaim: { claimName: 'pg-restored-wal', readOnly: true } });
    expect(() => buildScratchPod({ ...base, role: 'server', set: { dataMountPath: '/pg/data', volumes: [{ pvc: 'w', mountPath: '/pg/data' }] } })).toThrow(
      /share a mount path/,
    );
    expect(() => buildScratchPod({ ...base, role: 'server', set: { dataMountPath: '/pg/data', volumes: [{ pvc: 'w', mountPath: '/tmp' }] } })).toThrow(
      /other than \/ and \/tmp/,
    );
  });

  it('refuses root, bad setting names, escaping subpaths and bad names before anything is sent', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isDbaasError(error) ? `${error.code}${error.option ? ` (${error.option})` : ''}` : 'not a DbaasError';
      }
      return 'no error';
    };
    expect(code(() => buildScratchPod({ ...base, role: 'server', runAsUser: 0 }))).toBe('INVALID_ARGUMENT (runAsUser)');
    expect(code(() => buildScratchPod({ ...base, role: 'server', settings: { 'x; rm -rf /': '1' } }))).toBe('INVALID_ARGUMENT');
    expect(code(() => buildScratchPod({ ...base, role: 'server', dataSubPath: '../etc' }))).toBe('INVALID_ARGUMENT (dataSubPath)');
    expect(code(() => buildScratchPod({ ...base, role: 'server', dataSubPath: '/abs' }))).toBe('INVALID_ARGUMENT (dataSubPath)');
    expect(code(() => buildScratchPod({ ...base, role: 'server', name: 'Bad_Name' }))).toBe('INVALID_NAME');
    expect(code(() => buildScratchPod({ ...base, role: 'server', image: 'postgres 17' }))).toBe('INVALID_ARGUMENT (image)');
  });
});

describe('podVerifyRuntime', () => {
  it("the restore-prep Job of a scratch online restore gets the runtime's image for the backup's major, its user and pull policy", () => {
    const runtime = podVerifyRuntime({
      image: (m) => `registry.example/pg:${m}`,
      runAsUser: 26,
      fsGroup: 26,
      imagePullPolicy: 'Never',
      serviceAccountName: 'verify',
    });
    expect(runtime.prepOptions?.(16)).toEqual({
      image: 'registry.example/pg:16',
      runAsUser: 26,
      fsGroup: 26,
      imagePullPolicy: 'Never',
      serviceAccountName: 'verify',
    });
    // A backup that does not record its version: the restore's own default image (postgres:latest).
    expect(runtime.prepOptions?.(undefined)).toEqual({ runAsUser: 26, fsGroup: 26, imagePullPolicy: 'Never', serviceAccountName: 'verify' });
    expect(podVerifyRuntime().prepOptions?.(17)).toEqual({ image: 'postgres:17', runAsUser: 999 });
  });

  it('runs as the user the backup recorded from its database pod unless told otherwise; 999 when neither says', () => {
    const cnpg = { runAsUser: 26, fsGroup: 26 };
    expect(podVerifyRuntime().prepOptions?.(15, cnpg)).toEqual({ image: 'postgres:15', runAsUser: 26, fsGroup: 26 });
    // A user given to the runtime wins, and the source's fsGroup (meant for the source's user) is not taken.
    expect(podVerifyRuntime({ runAsUser: 70 }).prepOptions?.(15, cnpg)).toEqual({ image: 'postgres:15', runAsUser: 70 });
    expect(podVerifyRuntime({ fsGroup: 5 }).prepOptions?.(15, cnpg)).toEqual({ image: 'postgres:15', runAsUser: 26, fsGroup: 5 });
    expect(podVerifyRuntime().prepOptions?.(15, {})).toEqual({ image: 'postgres:15', runAsUser: 999 });
  });
});

describe('chooseDataSubPath (the inspect pod and findDataSubPath both pick PGDATA with it)', () => {
  it('the root first, else the one subdirectory; none or several: a fix naming dataSubPath, never a flag', () => {
    expect(chooseDataSubPath(['', 'pgdata'])).toBe('');
    expect(chooseDataSubPath(['pgdata'])).toBe('pgdata');
    for (const candidates of [[], ['a', 'b']]) {
      try {
        chooseDataSubPath(candidates);
        expect.unreachable();
      } catch (error) {
        expect(isDbaasError(error, 'DATA_DIRECTORY_UNREADABLE')).toBe(true);
        expect((error as DbaasError).option).toBe('dataSubPath');
        expect((error as DbaasError).fix).not.toMatch(/--/);
      }
    }
  });
});
