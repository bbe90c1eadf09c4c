import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { sessionMismatch } from './session-identity.js';

const pod = (extra: { labels?: Record<string, string>; hostname?: string; hostNetwork?: boolean } = {}): V1Pod => ({
  metadata: { name: 'pg-1', namespace: 'db', ...(extra.labels ? { labels: extra.labels } : {}) },
  spec: { containers: [], ...(extra.hostname ? { hostname: extra.hostname } : {}), ...(extra.hostNetwork ? { hostNetwork: true } : {}) },
  status: { podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }, { ip: 'fd00::9' }], hostIP: '192.168.1.5' },
});

describe('sessionMismatch', () => {
  it("MySQL/MariaDB: @@hostname must be the pod's host name (spec.hostname wins over the name; the domain is ignored)", () => {
    expect(sessionMismatch({ hostname: 'pg-1' }, pod(), 'pod')).toBeUndefined();
    expect(sessionMismatch({ hostname: 'pg-1.pg.db.svc.cluster.local' }, pod(), 'host')).toBeUndefined();
    expect(sessionMismatch({ hostname: 'pg-0' }, pod(), 'host')).toBe('the session reached the server on host "pg-0", and pod db/pg-1 has host name "pg-1"');
    expect(sessionMismatch({ hostname: 'custom' }, pod({ hostname: 'custom' }), 'host')).toBeUndefined();
  });

  it("PostgreSQL over an address the caller gave: the server address must be one of the pod's IPs; loopback proves nothing", () => {
    expect(sessionMismatch({ address: '10.244.0.9' }, pod(), 'host')).toBeUndefined();
    expect(sessionMismatch({ address: 'fd00::9' }, pod(), 'host')).toBeUndefined();
    expect(sessionMismatch({ address: '127.0.0.1' }, pod(), 'host')).toBeUndefined();
    expect(sessionMismatch({ address: '10.244.0.7' }, pod(), 'host')).toBe(
      'the session reached the server at 10.244.0.7, and pod db/pg-1 has IP 10.244.0.9, fd00::9',
    );
    expect(sessionMismatch({ address: '192.168.1.5' }, pod({ hostNetwork: true }), 'host')).toBeUndefined();
  });

  it('a CloudNativePG instance: its role label must match whether the server is in recovery', () => {
    const replica = pod({ labels: { 'cnpg.io/cluster': 'pg', 'cnpg.io/instanceRole': 'replica' } });
    expect(sessionMismatch({ address: '127.0.0.1', inRecovery: true }, replica, 'host')).toBeUndefined();
    expect(sessionMismatch({ address: '127.0.0.1', inRecovery: false }, replica, 'host')).toBe(
      "the session's server is a primary, and pod db/pg-1 is CloudNativePG's replica",
    );
    const primary = pod({ labels: { 'cnpg.io/cluster': 'pg', role: 'primary' } });
    expect(sessionMismatch({ inRecovery: true }, primary, 'pod')).toBe(
      "the session's server is in recovery (a standby), and pod db/pg-1 is CloudNativePG's primary",
    );
    expect(sessionMismatch({ inRecovery: true }, pod(), 'host')).toBeUndefined();
  });
});
