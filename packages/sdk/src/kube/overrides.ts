// kubectl's global connection flags (--cluster, --user, --server, --token, --certificate-authority,
// --client-certificate, --client-key, --insecure-skip-tls-verify, --as, --request-timeout) applied
// to a loaded KubeConfig with kubectl's meaning: they replace what the current context says, for
// this process only (the kubeconfig file is never written).
import { existsSync } from 'node:fs';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { DbaasError } from '../errors.js';

/**
 * kubectl's global flags that change how the API server is reached, as {@link KubeClients.load}
 * takes them (`KubeClientsOptions.overrides`).
 *
 * @example
 * ```ts
 * const overrides: KubeConfigOverrides = { server: 'https://10.0.0.1:6443', token: process.env.TOKEN, requestTimeoutMs: 30_000 };
 * ```
 */
export interface KubeConfigOverrides {
  /** `--cluster`: the kubeconfig cluster entry to use instead of the context's. */
  cluster?: string;
  /** `--user`: the kubeconfig user entry to use instead of the context's. */
  user?: string;
  /** `--server`/`-s`: the API server's address (`https://host:port`). */
  server?: string;
  /** `--token`: a bearer token; replaces the user's other credentials. */
  token?: string;
  /** `--certificate-authority`: a CA certificate file. */
  certificateAuthority?: string;
  /** `--client-certificate`: a client certificate file. */
  clientCertificate?: string;
  /** `--client-key`: a client key file. */
  clientKey?: string;
  /** `--insecure-skip-tls-verify`: do not check the server's certificate. */
  insecureSkipTlsVerify?: boolean;
  /** `--as`: the user to impersonate. */
  as?: string;
  /** `--request-timeout`: give up on a single API request after this many ms (0 or absent: never). */
  requestTimeoutMs?: number;
  /** Called with the method and URL of each API request (kubectl's `-v=6`); never with headers. */
  onRequest?: (method: string, url: string) => void;
}

/** Whether any connection override is set (the request timeout aside). */
export function hasConnectionOverrides(o: KubeConfigOverrides): boolean {
  // requestTimeoutMs and onRequest change no connection setting.
  return [o.cluster, o.user, o.server, o.token, o.certificateAuthority, o.clientCertificate, o.clientKey, o.insecureSkipTlsVerify, o.as].some(
    (v) => v !== undefined,
  );
}

/**
 * A KubeConfig made from the flags alone, as kubectl does without a kubeconfig: `--server` (and
 * `--token` etc.) in a context named `flags`.
 *
 * @example
 * ```ts
 * kc.loadFromOptions(configFromFlags('https://10.0.0.1:6443'));
 * ```
 */
export function configFromFlags(server: string): { clusters: Cluster[]; users: User[]; contexts: Context[]; currentContext: string } {
  return {
    clusters: [{ name: 'flags', server, skipTLSVerify: false }],
    users: [{ name: 'flags' }],
    contexts: [{ name: 'flags', cluster: 'flags', user: 'flags' }],
    currentContext: 'flags',
  };
}

/** `option` is the override's name in {@link KubeConfigOverrides}; `what` says what the file is. */
function fileMustExist(file: string | undefined, option: keyof KubeConfigOverrides, what: string): void {
  if (file !== undefined && !existsSync(file)) {
    throw new DbaasError('KUBE_CONFIG_INVALID', `the ${what} file ${file} does not exist`, {
      fix: `Give an existing ${what} file.`,
      option: `overrides.${option}`,
    });
  }
}

/**
 * Applies `overrides` to the current context of `kc` (after `--context` chose it), in place.
 *
 * @throws DbaasError `KUBE_CONFIG_INVALID` for a `--cluster`/`--user` the kubeconfig does not have
 *   (naming the ones it has), a certificate or key file that does not exist, or
 *   `--insecure-skip-tls-verify` with `--certificate-authority` (kubectl refuses that too).
 * @example
 * ```ts
 * applyOverrides(kc, { user: 'admin', requestTimeoutMs: 10_000 }, '~/.kube/config');
 * ```
 */
export function applyOverrides(kc: KubeConfig, overrides: KubeConfigOverrides, source: string): void {
  const o = overrides;
  if (hasConnectionOverrides(o)) {
    if (o.insecureSkipTlsVerify && o.certificateAuthority !== undefined) {
      throw new DbaasError('KUBE_CONFIG_INVALID', 'skipping the TLS check and giving a certificate authority contradict each other', {
        fix: 'Give one: a certificate authority file to check the server with, or skip the check.',
        option: 'overrides.insecureSkipTlsVerify',
      });
    }
    fileMustExist(o.certificateAuthority, 'certificateAuthority', 'certificate authority');
    fileMustExist(o.clientCertificate, 'clientCertificate', 'client certificate');
    fileMustExist(o.clientKey, 'clientKey', 'client key');
    const context = kc.getContextObject(kc.getCurrentContext())!;
    for (const [entry, name, known] of [
      ['cluster', o.cluster, kc.getClusters().map((c) => c.name)],
      ['user', o.user, kc.getUsers().map((u) => u.name)],
    ] as const) {
      if (name !== undefined && !known.includes(name)) {
        throw new DbaasError('KUBE_CONFIG_INVALID', `${entry} "${name}": no such ${entry} in ${source}`, {
          fix: known.length ? `Use one of: ${known.join(', ')}.` : `The kubeconfig has no ${entry} entries.`,
          option: `overrides.${entry}`,
        });
      }
    }
    const clusterName = o.cluster ?? context.cluster;
    const userName = o.user ?? context.user;
    const baseCluster: Cluster = kc.getCluster(clusterName) ?? { name: clusterName, server: '', skipTLSVerify: false };
    const baseUser: User = kc.getUser(userName) ?? { name: userName };
    // A flag replaces what it overrides: the fields it supersedes are dropped, not kept beside it.
    const cluster = withoutFields<Cluster>(
      {
        ...baseCluster,
        ...(o.server !== undefined ? { server: o.server } : {}),
        ...(o.certificateAuthority !== undefined ? { caFile: o.certificateAuthority } : {}),
        ...(o.insecureSkipTlsVerify !== undefined ? { skipTLSVerify: o.insecureSkipTlsVerify } : {}),
      },
      [...(o.certificateAuthority !== undefined ? (['caData'] as const) : []), ...(o.insecureSkipTlsVerify ? (['caFile', 'caData'] as const) : [])],
    );
    if (!cluster.server) {
      throw new DbaasError('KUBE_CONFIG_INVALID', `cluster "${clusterName}" of ${source} has no server`, {
        fix: "Give the API server's address (https://HOST:PORT), or fix the kubeconfig.",
        option: 'overrides.server',
      });
    }
    const user = withoutFields<User>(
      {
        ...baseUser,
        ...(o.token !== undefined ? { token: o.token } : {}),
        ...(o.clientCertificate !== undefined ? { certFile: o.clientCertificate } : {}),
        ...(o.clientKey !== undefined ? { keyFile: o.clientKey } : {}),
        ...(o.as !== undefined ? { impersonateUser: o.as } : {}),
      },
      [
        // A token replaces the user's other ways to authenticate, as in kubectl.
        ...(o.token !== undefined ? (['exec', 'authProvider', 'username', 'password'] as const) : []),
        ...(o.clientCertificate !== undefined ? (['certData'] as const) : []),
        ...(o.clientKey !== undefined ? (['keyData'] as const) : []),
      ],
    );
    // The overridden entries get names of their own, so other contexts keep the file's.
    const overridden = `${context.name} (flags)`;
    kc.loadFromOptions({
      clusters: [...kc.getClusters().filter((c) => c.name !== overridden), { ...cluster, name: overridden }],
      users: [...kc.getUsers().filter((u) => u.name !== overridden), { ...user, name: overridden }],
      contexts: [...kc.getContexts().filter((c) => c.name !== context.name), { ...context, cluster: overridden, user: overridden }],
      currentContext: context.name,
    });
  }
  const timeoutMs = o.requestTimeoutMs ?? 0;
  const onRequest = o.onRequest;
  if (timeoutMs > 0 || onRequest) {
    // Every call of the generated API clients goes through applySecurityAuthentication: the
    // timeout is added to the request's own signal (watches have their own mechanism and keep
    // their own deadlines).
    type RequestContext = { getSignal(): AbortSignal | undefined; setSignal(signal: AbortSignal): void; getHttpMethod(): string; getUrl(): string };
    const target = kc as unknown as { applySecurityAuthentication(context: RequestContext): Promise<void> };
    const apply = target.applySecurityAuthentication.bind(kc);
    target.applySecurityAuthentication = async (context) => {
      await apply(context);
      onRequest?.(String(context.getHttpMethod()), context.getUrl());
      if (timeoutMs > 0) {
        const timeout = AbortSignal.timeout(timeoutMs);
        const own = context.getSignal();
        context.setSignal(own ? AbortSignal.any([own, timeout]) : timeout);
      }
    };
  }
}

/** `object` without `fields` (deleted, not set to undefined: optional fields are absent or set). */
function withoutFields<T extends object>(object: T, fields: readonly (keyof T)[]): T {
  const copy = { ...object };
  for (const field of fields) delete copy[field];
  return copy;
}
