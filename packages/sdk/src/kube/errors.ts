// Maps whatever @kubernetes/client-node throws (ApiException with a Status body, fetch/undici network
// errors, the Watch's `statusCode` errors, aborts) to DbaasError with a message a user can act on.
import { DbaasError, type DbaasErrorCode } from '../errors.js';

/**
 * What a call to the API server was trying to do: used to word errors (and the RBAC rule to add
 * on 403) when the server's `Status` does not say it all.
 *
 * @example
 * ```ts
 * const op: KubeOperation = { verb: 'list', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: 'db' };
 * ```
 */
export interface KubeOperation {
  /** RBAC verb: get, list, watch, create, update, patch, delete, deletecollection. */
  verb: string;
  /** Plural resource name, e.g. `persistentvolumeclaims`; with a subresource `pods/exec`. */
  resource: string;
  /** API group; `''` (or undefined) for the core group. */
  group?: string;
  /** Namespace; undefined for cluster-scoped resources and all-namespace lists. */
  namespace?: string;
  name?: string;
  /** `https://host:port` of the API server, for connection errors. */
  server?: string;
  /** Kubeconfig context in use, for credential errors. */
  context?: string;
}

/**
 * A Kubernetes `Status` object, as the API server returns it in the body of every failed request
 * and as the object of a watch `ERROR` event.
 *
 * @example
 * ```ts
 * const status = parseStatus(apiException.body);
 * if (status?.reason === 'AlreadyExists') adopt();
 * ```
 */
export interface KubeStatus {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/**
 * Parses a `Status` from an ApiException body (a JSON string in client-node v2) or an object.
 * Returns undefined when it is not one.
 *
 * @example
 * ```ts
 * parseStatus('{"kind":"Status","code":404,"reason":"NotFound"}')?.reason; // 'NotFound'
 * ```
 */
export function parseStatus(body: unknown): KubeStatus | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as KubeStatus;
  if (s.kind !== 'Status' && typeof s.code !== 'number' && typeof s.reason !== 'string') return undefined;
  return s;
}

const FORBIDDEN_TEXT = /cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)?/;
const USER_TEXT = /User "([^"]+)"/;

/** `volumesnapshots.snapshot.storage.k8s.io` or `persistentvolumeclaims` (core). */
function qualified(resource: string, group: string | undefined): string {
  return group ? `${resource}.${group}` : resource;
}

function scopeText(namespace: string | undefined): string {
  return namespace ? ` in namespace "${namespace}"` : ' at cluster scope';
}

/** RBAC rule text for a missing permission, and the kubectl commands that add it. */
function rbacFix(verb: string, resource: string, group: string, namespace: string | undefined, user: string | undefined): string {
  const [plural, sub] = resource.split('/');
  const roleName = `dbaas-${(plural ?? resource).replace(/[^a-z0-9-]/g, '-')}-${verb}`.slice(0, 63).replace(/-+$/, '');
  const kind = namespace ? 'Role' : 'ClusterRole';
  const lines = [
    `Grant the permission with a ${kind}${namespace ? ` in namespace "${namespace}"` : ''} rule, bound to ${user ? `"${user}"` : 'the identity kubectl-dbaas runs as'}:`,
    `  - apiGroups: ["${group}"]`,
    `    resources: ["${sub ? `${plural}/${sub}` : plural}"]`,
    `    verbs: ["${verb}"]`,
    'For example:',
  ];
  const resourceArg = `--resource=${qualified(resource, group)}`;
  let subject = '--user=<user>';
  if (user?.startsWith('system:serviceaccount:')) {
    const [, , saNamespace, saName] = user.split(':');
    subject = `--serviceaccount=${saNamespace}:${saName}`;
  } else if (user) {
    subject = `--user=${user}`;
  }
  if (namespace) {
    lines.push(`  kubectl create role ${roleName} --verb=${verb} ${resourceArg} -n ${namespace}`);
    lines.push(`  kubectl create rolebinding ${roleName} --role=${roleName} ${subject} -n ${namespace}`);
  } else {
    lines.push(`  kubectl create clusterrole ${roleName} --verb=${verb} ${resourceArg}`);
    lines.push(`  kubectl create clusterrolebinding ${roleName} --clusterrole=${roleName} ${subject}`);
  }
  return lines.join('\n');
}

function objectText(op: Partial<KubeOperation>, status: KubeStatus | undefined): string {
  const resource = op.resource ?? status?.details?.kind;
  const group = op.group ?? status?.details?.group;
  const name = op.name ?? status?.details?.name;
  return `${qualified(resource ?? 'object', group)}${name ? ` "${name}"` : ''}${op.namespace ? ` in namespace "${op.namespace}"` : ''}`;
}

/** Network-level error codes found in `cause` chains of undici's `fetch failed`. */
function networkCode(error: unknown): { code: string; message: string } | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    // fetch refuses ports on the Fetch standard's "bad port" list before connecting: no code.
    if (code === undefined && (e as Error).message === 'bad port') return { code: 'BAD_PORT', message: 'bad port' };
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|ERR_TLS_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_[A-Z_]+)$/.test(code)) {
      return { code, message: (e as Error).message ?? code };
    }
    queue.push((e as { cause?: unknown }).cause);
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) queue.push(...inner);
  }
  return undefined;
}

function networkMessage(code: string, server: string): { message: string; fix: string } {
  if (code === 'ECONNREFUSED') {
    return {
      message: `cannot connect to the Kubernetes API server ${server}: connection refused`,
      fix: 'Check that the cluster is running and that the kubeconfig context points at it (kubectl cluster-info).',
    };
  }
  if (code === 'BAD_PORT') {
    return {
      message: `cannot connect to the Kubernetes API server ${server}: fetch refuses that port (it is on the Fetch standard's list of blocked ports, e.g. 1, 22, 25, 6000)`,
      fix: 'Serve the API server on another port (6443 is usual) or reach it through kubectl proxy or a port-forward on another port.',
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { message: `cannot resolve the host of the Kubernetes API server ${server} (${code})`, fix: 'Check the server address in the kubeconfig and DNS.' };
  }
  if (/TIMEOUT|ETIMEDOUT/.test(code)) {
    return {
      message: `the Kubernetes API server ${server} did not answer in time (${code})`,
      fix: 'Check network access to the API server (VPN, firewall, proxy) and that it is not overloaded.',
    };
  }
  if (/CERT|TLS|UNABLE_TO_/.test(code)) {
    return {
      message: `TLS verification of the Kubernetes API server ${server} failed (${code})`,
      fix: 'Check certificate-authority(-data) in the kubeconfig; it must sign the server certificate.',
    };
  }
  return {
    message: `the connection to the Kubernetes API server ${server} failed (${code})`,
    fix: 'Retry; if it persists, check that the API server is running and reachable.',
  };
}

/**
 * Turns anything a client-node call threw into a {@link DbaasError}:
 * 403 `KUBE_FORBIDDEN` (message names verb, resource, group and namespace; `fix` shows the RBAC
 * rule and `kubectl create role` commands), 401 `KUBE_UNAUTHORIZED`, 404 `KUBE_NOT_FOUND`,
 * 409 `KUBE_CONFLICT`, 422 `KUBE_INVALID` (with the validation causes), connection failures
 * `KUBE_UNREACHABLE` naming the server, aborts `KUBE_ABORTED`, anything else `KUBE_API_ERROR`.
 * The API server's own `Status.message` is always part of the message.
 *
 * @example
 * ```ts
 * try {
 *   await custom.listNamespacedCustomObject({ group, version, namespace, plural });
 * } catch (error) {
 *   throw toKubeError(error, { verb: 'list', resource: plural, group, namespace, server });
 * }
 * ```
 */
export function toKubeError(error: unknown, op: Partial<KubeOperation> = {}): DbaasError {
  if (error instanceof DbaasError) return error;
  const server = op.server ?? 'the API server';
  const e = error as { code?: unknown; statusCode?: unknown; body?: unknown; name?: unknown; message?: unknown } | undefined;

  // Aborts and client-side timeouts.
  if (e && (e.name === 'AbortError' || e.name === 'TimeoutError')) {
    const timeout = e.name === 'TimeoutError';
    return new DbaasError(
      timeout ? 'KUBE_TIMEOUT' : 'KUBE_ABORTED',
      `${op.verb ?? 'request'} ${objectText(op, undefined)}: ${timeout ? `no answer from ${server} in time` : 'aborted'}`,
      {
        cause: error,
        details: { ...op },
      },
    );
  }

  const httpStatus = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (httpStatus === undefined) {
    const net = networkCode(error);
    if (net) {
      const { message, fix } = networkMessage(net.code, server);
      return new DbaasError('KUBE_UNREACHABLE', `${message}${op.verb ? ` (while trying to ${op.verb} ${objectText(op, undefined)})` : ''}`, {
        fix,
        cause: error,
        details: { ...op, networkCode: net.code },
      });
    }
    const msg = error instanceof Error ? error.message : String(error);
    return new DbaasError('KUBE_API_ERROR', `${op.verb ?? 'request'} ${objectText(op, undefined)} failed: ${msg}`, { cause: error, details: { ...op } });
  }

  const status = parseStatus(e?.body);
  const apiMessage = status?.message;
  const suffix = apiMessage ? `: ${apiMessage}` : '';
  const details: Record<string, unknown> = { ...op, httpStatus, ...(status?.reason ? { reason: status.reason } : {}), ...(apiMessage ? { apiMessage } : {}) };

  switch (httpStatus) {
    case 403: {
      const parsed = apiMessage ? FORBIDDEN_TEXT.exec(apiMessage) : null;
      const verb = parsed?.[1] ?? op.verb ?? 'access';
      const resource = parsed?.[2] ?? op.resource ?? status?.details?.kind ?? 'the resource';
      const group = parsed ? (parsed[3] ?? '') : (op.group ?? status?.details?.group ?? '');
      const namespace = parsed ? parsed[4] : op.namespace;
      const user = apiMessage ? USER_TEXT.exec(apiMessage)?.[1] : undefined;
      const groupText = group ? `API group "${group}"` : 'the core API group';
      return new DbaasError('KUBE_FORBIDDEN', `forbidden: ${user ? `${user} ` : ''}cannot ${verb} ${resource} (${groupText})${scopeText(namespace)}${suffix}`, {
        fix: rbacFix(verb, resource, group, namespace, user),
        cause: error,
        details: { ...details, verb, resource, group, namespace, user },
      });
    }
    case 401:
      return new DbaasError(
        'KUBE_UNAUTHORIZED',
        `the API server ${server} rejected the credentials${op.context ? ` of context "${op.context}"` : ''} (401 Unauthorized)${suffix}`,
        {
          fix: 'The token or client certificate in the kubeconfig is missing, expired or not trusted by this cluster: log in again or refresh the kubeconfig.',
          cause: error,
          details,
        },
      );
    case 404: {
      const missingApi = !status?.details?.name && /could not find the requested resource/.test(apiMessage ?? '');
      return new DbaasError(
        'KUBE_NOT_FOUND',
        missingApi
          ? `the API server ${server} does not serve ${qualified(op.resource ?? 'this resource', op.group)}${suffix}`
          : `${objectText(op, status)} not found${suffix && !apiMessage?.endsWith('not found') ? suffix : ''}`,
        {
          ...(missingApi && op.group === 'snapshot.storage.k8s.io'
            ? { fix: 'Install the CSI snapshot CRDs and the snapshot-controller (github.com/kubernetes-csi/external-snapshotter).' }
            : {}),
          cause: error,
          details: { ...details, missingApi },
        },
      );
    }
    case 409:
      return new DbaasError(
        'KUBE_CONFLICT',
        status?.reason === 'AlreadyExists'
          ? `${objectText(op, status)} already exists${suffix}`
          : `conflict on ${objectText(op, status)} (it changed since it was read)${suffix}`,
        {
          fix: status?.reason === 'AlreadyExists' ? 'Choose another name, or delete the existing object if it is yours.' : 'Read the object again and retry.',
          cause: error,
          details,
        },
      );
    case 422: {
      const causes = (status?.details?.causes ?? []).map((c) => `${c.field ? `${c.field}: ` : ''}${c.message ?? c.reason ?? ''}`);
      return new DbaasError('KUBE_INVALID', `the API server refused ${objectText(op, status)} as invalid${suffix}`, {
        cause: error,
        details: { ...details, causes },
      });
    }
    default:
      return new DbaasError(
        'KUBE_API_ERROR',
        `${op.verb ?? 'request'} ${objectText(op, status)} failed with HTTP ${httpStatus}${status?.reason ? ` ${status.reason}` : ''}${suffix}`,
        {
          ...(httpStatus === 429 || httpStatus >= 500 ? { fix: 'The API server is overloaded or unavailable: retry later.' } : {}),
          cause: error,
          details,
        },
      );
  }
}

/**
 * The DbaasError code for an HTTP status of the API server, as {@link toKubeError} assigns it.
 *
 * @example
 * ```ts
 * kubeErrorCode(403); // 'KUBE_FORBIDDEN'
 * ```
 */
export function kubeErrorCode(httpStatus: number): DbaasErrorCode {
  switch (httpStatus) {
    case 401:
      return 'KUBE_UNAUTHORIZED';
    case 403:
      return 'KUBE_FORBIDDEN';
    case 404:
      return 'KUBE_NOT_FOUND';
    case 409:
      return 'KUBE_CONFLICT';
    case 422:
      return 'KUBE_INVALID';
    default:
      return 'KUBE_API_ERROR';
  }
}
