import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../usage-error.js';
import { createTarget, parseFence } from './options.js';

describe('parseFence', () => {
  it('reads auto, statefulset/NAME (sts/NAME) and cnpg/CLUSTER', () => {
    expect(parseFence('auto')).toEqual({ kind: 'auto' });
    expect(parseFence('statefulset/pg')).toEqual({ kind: 'statefulset', name: 'pg' });
    expect(parseFence('sts/pg')).toEqual({ kind: 'statefulset', name: 'pg' });
    expect(parseFence('cnpg/cluster-1')).toEqual({ kind: 'cnpg', cluster: 'cluster-1' });
  });

  it('refuses anything else with the accepted forms', () => {
    for (const bad of ['none', 'statefulset', 'statefulset/', 'deployment/pg', 'sts/Upper']) {
      expect(() => parseFence(bad)).toThrow(UsageError);
    }
    expect(() => parseFence('none')).toThrow(/auto, statefulset\/NAME or cnpg\/CLUSTER/);
  });
});

describe('createTarget', () => {
  it('takes exactly one of --pvc, --pod, --cnpg-cluster (--instance with --cnpg-cluster)', () => {
    expect(createTarget({ pvc: 'data' })).toEqual({ kind: 'pvc', name: 'data' });
    expect(createTarget({ pod: 'pg-0' })).toEqual({ kind: 'pod', name: 'pg-0' });
    expect(createTarget({ cnpgCluster: 'pg', instance: 'pg-2' })).toEqual({ kind: 'cluster', name: 'pg', instance: 'pg-2' });
    expect(() => createTarget({})).toThrow(/name what to back up: --pvc NAME/);
    expect(() => createTarget({ pvc: 'a', pod: 'b' })).toThrow(/give one target, not --pvc and --pod/);
    expect(() => createTarget({ pod: 'a', instance: 'b' })).toThrow(/--instance goes with --cnpg-cluster/);
  });
});
