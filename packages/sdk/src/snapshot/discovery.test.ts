import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { cnpgFencedInstances } from '../engines/fencing.js';
import { isDbaasError } from '../errors.js';
import { defaultBackupName } from './backup.js';
import { DATA_VOLUME_ANNOTATION, dataPvcOfPod } from './discovery.js';

function pod(volumes: [string, string | undefined][], annotations?: Record<string, string>): V1Pod {
  return {
    metadata: { name: 'pg-0', ...(annotations ? { annotations } : {}) },
    spec: {
      containers: [],
      volumes: volumes.map(([name, claim]) => (claim ? { name, persistentVolumeClaim: { claimName: claim } } : { name, emptyDir: {} })),
    },
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('dataPvcOfPod', () => {
  it('takes the only PVC-backed volume', () => {
    expect(
      dataPvcOfPod(
        pod([
          ['tmp', undefined],
          ['pgdata', 'data-pg-0'],
        ]),
      ),
    ).toBe('data-pg-0');
  });
  it('takes the annotated volume among several', () => {
    expect(
      dataPvcOfPod(
        pod(
          [
            ['wal', 'wal-pg-0'],
            ['pgdata', 'data-pg-0'],
          ],
          { [DATA_VOLUME_ANNOTATION]: 'pgdata' },
        ),
      ),
    ).toBe('data-pg-0');
  });
  it('asks which one when there are several and no annotation, naming the fix', () => {
    const e = thrown(() =>
      dataPvcOfPod(
        pod([
          ['wal', 'wal-pg-0'],
          ['pgdata', 'data-pg-0'],
        ]),
      ),
    );
    expect(isDbaasError(e, 'TARGET_UNSUPPORTED')).toBe(true);
    expect((e as { option?: string }).option).toBe('target');
    expect((e as Error).message).toMatch(/mounts 2 PVCs \(wal=wal-pg-0, pgdata=data-pg-0\)/);
    expect((e as { fix: string }).fix).toMatch(/dbaas.io\/data-volume=<volume name>/);
  });
  it("among several, without an annotation: the one whose mount in the database container holds PGDATA (pg_wal's own PVC is not it)", () => {
    const spread = pod([
      ['wal', 'wal-pg-0'],
      ['data', 'data-pg-0'],
    ]);
    spread.spec!.containers = [
      {
        name: 'postgres',
        image: 'postgres:17',
        env: [
          { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
          { name: 'POSTGRES_INITDB_WALDIR', value: '/var/lib/postgresql/wal/pg_wal' },
        ],
        volumeMounts: [
          { name: 'wal', mountPath: '/var/lib/postgresql/wal' },
          { name: 'data', mountPath: '/var/lib/postgresql/data' },
        ],
      },
    ];
    expect(dataPvcOfPod(spread)).toBe('data-pg-0');
    // pg_wal mounted inside the data directory: the deeper mount holds no PGDATA, the data volume's does.
    spread.spec!.containers[0]!.volumeMounts![0]!.mountPath = '/var/lib/postgresql/data/pgdata/pg_wal';
    expect(dataPvcOfPod(spread)).toBe('data-pg-0');
  });
  it('refuses an annotation that names no PVC volume, and a pod without PVCs', () => {
    const misnamed = thrown(() => dataPvcOfPod(pod([['pgdata', 'data-pg-0']], { [DATA_VOLUME_ANNOTATION]: 'nope' })));
    expect(isDbaasError(misnamed, 'TARGET_NOT_FOUND')).toBe(true);
    expect((misnamed as Error).message).toMatch(/no PVC-backed volume of that name/);
    const none = thrown(() => dataPvcOfPod(pod([['tmp', undefined]])));
    expect(isDbaasError(none, 'TARGET_NOT_FOUND')).toBe(true);
    expect((none as Error).message).toMatch(/mounts no PersistentVolumeClaim/);
    for (const e of [misnamed, none]) expect((e as { option?: string }).option).toBe('target');
  });
});

describe('cnpgFencedInstances', () => {
  it('adds and removes an instance, dropping the annotation when the list is empty', () => {
    expect(cnpgFencedInstances(undefined, 'pg-1', true)).toBe('["pg-1"]');
    expect(cnpgFencedInstances('["pg-2"]', 'pg-1', true)).toBe('["pg-2","pg-1"]');
    expect(cnpgFencedInstances('["pg-1"]', 'pg-1', true)).toBe('["pg-1"]');
    expect(cnpgFencedInstances('["*"]', 'pg-1', true)).toBe('["*"]');
    expect(cnpgFencedInstances('["pg-2","pg-1"]', 'pg-1', false)).toBe('["pg-2"]');
    expect(cnpgFencedInstances('["pg-1"]', 'pg-1', false)).toBeUndefined();
  });
  it('refuses an annotation that is not a JSON list of names', () => {
    expect(
      isDbaasError(
        thrown(() => cnpgFencedInstances('pg-1', 'pg-1', true)),
        'TARGET_UNSUPPORTED',
      ),
    ).toBe(true);
  });
});

describe('defaultBackupName', () => {
  it('is <pvc>-<UTC stamp>, a DNS label that leaves room for -wal', () => {
    expect(defaultBackupName('data-pg-0', new Date('2024-06-01T02:03:04Z'))).toBe('data-pg-0-20240601020304');
    const long = defaultBackupName(`${'a'.repeat(43)}-b.c`, new Date('2024-06-01T02:03:04Z'));
    expect(long).toBe(`${'a'.repeat(43)}-20240601020304`);
    expect(long.length).toBeLessThanOrEqual(59);
  });
});
