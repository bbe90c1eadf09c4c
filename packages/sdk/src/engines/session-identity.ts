// Proof that a SQL session is on the instance whose volume is snapshotted. A CloudNativePG Secret's
// host is the primary's Service while a backup of a standby snapshots the standby's volume; a
// leftover $PGHOST or a port-forward to another pod reaches some other server. A checkpoint or a
// backup_label from another instance than the snapshotted one is worse than no backup: it looks fine.
import type { V1Pod } from '@kubernetes/client-node';
import type { SessionServer } from './engine.js';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** CloudNativePG's role label of an instance pod (`cnpg.io/instanceRole`, older versions `role`). */
function cnpgRole(pod: V1Pod): 'primary' | 'replica' | undefined {
  const labels = pod.metadata?.labels ?? {};
  if (!labels['cnpg.io/cluster']) return undefined;
  const role = labels['cnpg.io/instanceRole'] ?? labels.role;
  return role === 'primary' || role === 'replica' ? role : undefined;
}

/**
 * Why the session's server is not the database of `pod`, or undefined when nothing says so.
 * `via: 'pod'` is a session this tool forwarded to the pod itself; `via: 'host'` one to an address
 * the caller gave. What is compared: MySQL/MariaDB's `@@hostname` with the pod's host name; the
 * address PostgreSQL received the session on with the pod's IPs (a loopback address, the far end
 * of someone's port-forward, proves nothing either way); a CloudNativePG instance's role with
 * whether the server is in recovery.
 *
 * @example
 * ```ts
 * sessionMismatch({ address: '10.244.0.7', inRecovery: false }, pod, 'host');
 * // 'the session reached the server at 10.244.0.7, and pod db/pg-1 has IP 10.244.0.9'
 * ```
 */
export function sessionMismatch(server: SessionServer, pod: V1Pod, via: 'pod' | 'host'): string | undefined {
  const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const hostName = pod.spec?.hostname ?? pod.metadata?.name;
  if (server.hostname !== undefined && hostName !== undefined && !pod.spec?.hostNetwork) {
    const short = server.hostname.split('.')[0];
    if (short !== hostName) return `the session reached the server on host "${server.hostname}", and pod ${name} has host name "${hostName}"`;
  }
  if (via === 'host' && server.address !== undefined && !LOOPBACK.test(server.address)) {
    const ips = new Set(
      [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip), ...(pod.spec?.hostNetwork ? [pod.status?.hostIP] : [])].filter(
        (ip): ip is string => !!ip,
      ),
    );
    if (ips.size > 0 && !ips.has(server.address)) return `the session reached the server at ${server.address}, and pod ${name} has IP ${[...ips].join(', ')}`;
  }
  const role = cnpgRole(pod);
  if (role !== undefined && server.inRecovery !== undefined && (role === 'primary') === server.inRecovery) {
    return `the session's server is ${server.inRecovery ? 'in recovery (a standby)' : 'a primary'}, and pod ${name} is CloudNativePG's ${role}`;
  }
  return undefined;
}
