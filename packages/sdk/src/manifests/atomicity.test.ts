import { describe, expect, it } from 'vitest';
import { isDbaasError } from '../errors.js';
import { ATOMIC_SNAPSHOTS_ANNOTATION, KNOWN_DRIVER_ATOMICITY, chooseConsistencyMode, snapshotAtomicity } from './atomicity.js';

const cls = (value: string) => ({ metadata: { name: 'fast', annotations: { [ATOMIC_SNAPSHOTS_ANNOTATION]: value } } });

describe('snapshot atomicity', () => {
  it('knows the table of docs/sdk.md, "Driver atomicity and the default mode"', () => {
    expect(snapshotAtomicity('hostpath.csi.k8s.io')).toMatchObject({ atomic: false, source: 'table' });
    for (const d of [
      'ebs.csi.aws.com',
      'pd.csi.storage.gke.io',
      'disk.csi.azure.com',
      'rbd.csi.ceph.com',
      'zfs.csi.openebs.io',
      'local.csi.openebs.io',
      'btrfs.test.csi.kubectl-dbaas.io',
    ]) {
      expect(snapshotAtomicity(d), d).toMatchObject({ atomic: true, source: 'table' });
    }
    expect(Object.keys(KNOWN_DRIVER_ATOMICITY)).toHaveLength(8);
  });

  it('treats unknown drivers as not atomic, and the class annotation overrides both ways', () => {
    expect(snapshotAtomicity('nfs.csi.k8s.io')).toMatchObject({ atomic: false, source: 'unknown' });
    expect(snapshotAtomicity('nfs.csi.k8s.io', cls('true'))).toMatchObject({ atomic: true, source: 'annotation' });
    expect(snapshotAtomicity('ebs.csi.aws.com', cls('false'))).toMatchObject({ atomic: false, source: 'annotation' });
    expect(snapshotAtomicity('ebs.csi.aws.com', { metadata: { name: 'x' } })).toMatchObject({ atomic: true, source: 'table' });
    let error: unknown;
    try {
      snapshotAtomicity('ebs.csi.aws.com', cls('yes'));
    } catch (e) {
      error = e;
    }
    expect(isDbaasError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('"fast"');
  });
});

describe('chooseConsistencyMode', () => {
  const hostpath = snapshotAtomicity('hostpath.csi.k8s.io');
  const ebs = snapshotAtomicity('ebs.csi.aws.com');

  it('defaults to fenced on non-atomic drivers and checkpoint on atomic ones', () => {
    expect(chooseConsistencyMode(hostpath)).toBe('fenced');
    expect(chooseConsistencyMode(snapshotAtomicity('unknown.example.com'))).toBe('fenced');
    expect(chooseConsistencyMode(ebs)).toBe('checkpoint');
  });

  it('refuses crash (and checkpoint) on a non-atomic driver unless forced, saying why', () => {
    for (const mode of ['crash', 'checkpoint'] as const) {
      let error: unknown;
      try {
        chooseConsistencyMode(hostpath, mode);
      } catch (e) {
        error = e;
      }
      expect(isDbaasError(error, 'MODE_UNSAFE')).toBe(true);
      const e = error as Error & { fix: string };
      expect(e.message).toContain(`mode "${mode}" is unsafe on hostpath.csi.k8s.io`);
      expect(e.message).toContain('tar czf');
      expect(e.message).toContain('silently corrupt');
      expect(e.fix).toContain('--mode fenced');
      expect(e.fix).toContain('--mode online');
      expect(e.fix).toContain(ATOMIC_SNAPSHOTS_ANNOTATION);
      expect(chooseConsistencyMode(hostpath, mode, { force: true })).toBe(mode);
    }
    expect(chooseConsistencyMode(hostpath, 'online')).toBe('online');
    expect(chooseConsistencyMode(hostpath, 'fenced')).toBe('fenced');
    expect(chooseConsistencyMode(ebs, 'crash')).toBe('crash');
  });
});
