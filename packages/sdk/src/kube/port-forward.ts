// A local TCP port that reaches one port of one pod through the API server (the `pods/portforward`
// subresource, as `kubectl port-forward` does): a laptop reaches a database in a pod on any
// cluster with nothing but its kubeconfig. One forwarding stream per local connection.
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import type { DbaasError } from '../errors.js';
import { toKubeError } from './errors.js';

/**
 * Where to forward: a pod and a port in it.
 *
 * @example
 * ```ts
 * const target: PodPortTarget = { namespace: 'db', pod: 'pg-0', port: 5432 };
 * ```
 */
export interface PodPortTarget {
  namespace: string;
  pod: string;
  port: number;
}

/**
 * A listening local port forwarded to a pod's port.
 *
 * @example
 * ```ts
 * const fwd = await forwardPodPort(clients.kubeConfig, { namespace: 'db', pod: 'pg-0', port: 5432 });
 * console.log(`psql -h ${fwd.host} -p ${fwd.port}`);
 * await fwd.close();
 * ```
 */
export interface PodPortForward {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly target: PodPortTarget;
  /** What the kubelet last reported on the error stream (e.g. nothing listens on the port), for messages. */
  lastError(): string | undefined;
  /** Stops listening and ends every forwarded connection. Idempotent. */
  close(): Promise<void>;
}

/** The HTTP status in a failed WebSocket upgrade (`Unexpected server response: 403`). */
function upgradeStatus(error: unknown): number | undefined {
  const text =
    error instanceof Error
      ? error.message
      : typeof (error as { message?: unknown })?.message === 'string'
        ? (error as { message: string }).message
        : String(error);
  const match = /Unexpected server response: (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}

function forwardError(error: unknown, target: PodPortTarget): DbaasError {
  const status = upgradeStatus(error);
  const where = `pod ${target.namespace}/${target.pod} port ${target.port}`;
  if (status === undefined) {
    const cause = (error as { error?: unknown })?.error ?? error;
    return toKubeError(cause, { verb: 'create', resource: 'pods/portforward', namespace: target.namespace, name: target.pod });
  }
  // The upgrade's body is not available from the WebSocket: word the Status from its code.
  return toKubeError(
    {
      code: status,
      body: { kind: 'Status', code: status, message: `port-forward to ${where} refused (HTTP ${status})`, ...(status === 404 ? { reason: 'NotFound' } : {}) },
    },
    { verb: 'create', resource: 'pods/portforward', namespace: target.namespace, name: target.pod },
  );
}

/** Opens one forwarding stream and resolves once the API server and kubelet accepted it. */
function openStream(forward: PortForward, target: PodPortTarget, output: Writable, errors: Writable, input: NodeJS.ReadableStream) {
  return forward.portForward(target.namespace, target.pod, [target.port], output, errors, input as never);
}

/**
 * Listens on 127.0.0.1 (an ephemeral port) and forwards each connection to `target` through the API
 * server. Before it returns, one stream is opened and closed again, so a missing pod or a missing
 * `pods/portforward` permission fails here, with the RBAC rule to add, and not later as a
 * database client's "connection terminated".
 *
 * @throws DbaasError `KUBE_FORBIDDEN` (no `create` on `pods/portforward`), `KUBE_NOT_FOUND` (no
 *   such pod), `KUBE_API_ERROR` (the pod is not running, or another refusal).
 * @example
 * ```ts
 * const fwd = await forwardPodPort(clients.kubeConfig, { namespace: 'db', pod: 'pg-0', port: 5432 });
 * const client = new pg.Client({ host: fwd.host, port: fwd.port, user: 'postgres' });
 * ```
 */
export async function forwardPodPort(kubeConfig: KubeConfig, target: PodPortTarget): Promise<PodPortForward> {
  const forward = new PortForward(kubeConfig);
  let lastError: string | undefined;
  const errorSink = () =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        const text = chunk.toString('utf8').trim();
        if (text) lastError = text;
        done();
      },
    });
  try {
    const probeInput = new PassThrough();
    const ws = await openStream(forward, target, new PassThrough(), errorSink(), probeInput);
    probeInput.end();
    if (typeof ws !== 'function') ws.close();
  } catch (error) {
    throw forwardError(error, target);
  }
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    openStream(forward, target, socket, errorSink(), socket).then(
      (ws) => {
        // The stream ends when the pod goes away: end the local connection with it.
        if (typeof ws === 'function') return;
        ws.on('close', () => socket.destroy());
        ws.on('error', () => socket.destroy());
        socket.on('close', () => ws.close());
      },
      (error: unknown) => {
        lastError = forwardError(error, target).message;
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (listener.address() as net.AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    target,
    lastError: () => lastError,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        listener.close(() => resolve());
      })),
  };
}

/**
 * Words a database client's failure on a forwarded port with what the kubelet said, if anything.
 *
 * @example
 * ```ts
 * throw new DbaasError('PG_CONNECTION_FAILED', `cannot connect: ${error.message}${forwardNote(fwd)}`);
 * ```
 */
export function forwardNote(forward: PodPortForward | undefined): string {
  const said = forward?.lastError();
  return said ? ` (port-forward to pod ${forward!.target.namespace}/${forward!.target.pod}:${forward!.target.port}: ${said})` : '';
}
