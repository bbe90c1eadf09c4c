// PostgreSQL where a user has it: a StatefulSet on the test node (packages/testing's images), its
// Secret, and the SQL path a user has today from outside the cluster: `kubectl port-forward` through
// the API server. The CLI's e2e tests use only this file for it, so that the testing package's
// StatefulSet fixture (branch `pods`) can replace it in one place.
//
// Manifests are plain objects created with the SDK's KubeClients (@kubernetes/client-node);
// processes get argument arrays, never a shell. The password is random per Secret, read back only
// to connect, and never printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { KubeClients } from '@kubectl-dbaas/sdk';
import { isGone, watchUntil } from '@kubectl-dbaas/sdk';
import pg from 'pg';

/** The test node's PostgreSQL image of a major (packages/testing/src/node/images.ts; never pulled). */
export const postgresImage = (major: number): string => `localhost/kubectl-dbaas-test/postgres:${major}`;
/** `verify --image`: the same images, `{major}` filled in by the CLI. */
export const POSTGRES_IMAGE_TEMPLATE = 'localhost/kubectl-dbaas-test/postgres:{major}';
/** The major the e2e tests deploy: its image keeps PGDATA at /var/lib/postgresql/data (18 moved it). */
export const E2E_MAJOR = 17;
/** The StorageClass of the CSI hostpath driver (Immediate binding). */
export const HOSTPATH_CLASS = 'csi-hostpath-sc';

/** The Secret's keys, as CloudNativePG and kubernetes.io/basic-auth write them (what `--db-secret` reads). */
export interface PostgresSecret {
  name: string;
  username: string;
}

/**
 * A Secret with a random password for the `postgres` superuser.
 *
 * @example
 * const secret = await createPostgresSecret(clients, ns, 'pg-app');
 */
export async function createPostgresSecret(clients: KubeClients, namespace: string, name: string): Promise<PostgresSecret> {
  const password = randomBytes(18).toString('base64url');
  await clients.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, type: 'Opaque', stringData: { username: 'postgres', password, dbname: 'postgres' } },
  });
  return { name, username: 'postgres' };
}

async function readPassword(clients: KubeClients, namespace: string, secret: string): Promise<string> {
  const s = await clients.core.readNamespacedSecret({ name: secret, namespace });
  const b64 = s.data?.['password'];
  if (!b64) throw new Error(`Secret ${namespace}/${secret} has no password key`);
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** What {@link applyPostgresStatefulSet} made. */
export interface PostgresStatefulSet {
  namespace: string;
  name: string;
  /** Its one pod. */
  pod: string;
  /** The data PVC of that pod (`data-<name>-0`, from the volumeClaimTemplate). */
  pvc: string;
  secret: string;
}

/**
 * A one-replica PostgreSQL StatefulSet as a user writes one with the official image: PGDATA at the
 * root of a `data` volumeClaimTemplate on the hostpath class, the password from the Secret, a
 * readiness probe on the postmaster's own status. An existing PVC named
 * `data-<name>-0` (a restore) is what the pod starts on: the StatefulSet controller adopts it.
 *
 * @example
 * const sts = await applyPostgresStatefulSet(clients, { namespace: ns, name: 'pg', secret: 'pg-app' });
 * await waitStatefulSetReady(clients, sts);
 */
export async function applyPostgresStatefulSet(
  clients: KubeClients,
  opts: { namespace: string; name: string; secret: string; major?: number },
): Promise<PostgresStatefulSet> {
  const major = opts.major ?? E2E_MAJOR;
  const labels = { app: opts.name };
  await clients.apps.createNamespacedStatefulSet({
    namespace: opts.namespace,
    body: {
      metadata: { name: opts.name, labels },
      spec: {
        serviceName: opts.name,
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'postgres',
                image: postgresImage(major),
                imagePullPolicy: 'Never',
                env: [
                  { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: opts.secret, key: 'password' } } },
                  { name: 'PGDATA', value: '/var/lib/postgresql/data' },
                ],
                ports: [{ name: 'postgres', containerPort: 5432 }],
                // Ready when the postmaster says so (line 8 of postmaster.pid, what pg_ctl reads): the
                // image has no pg_isready, and a tcpSocket probe passed here while initdb still ran.
                readinessProbe: {
                  exec: { command: ['sh', '-c', 'sed -n 8p "$PGDATA/postmaster.pid" | grep -q ready'] },
                  periodSeconds: 1,
                  failureThreshold: 3,
                },
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], storageClassName: HOSTPATH_CLASS, resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    },
  });
  return { namespace: opts.namespace, name: opts.name, pod: `${opts.name}-0`, pvc: `data-${opts.name}-0`, secret: opts.secret };
}

/**
 * Waits until the StatefulSet's pod is Ready (the controller's view, what `kubectl rollout status` waits for).
 *
 * @example
 * await waitStatefulSetReady(clients, sts, 120_000);
 */
export async function waitStatefulSetReady(clients: KubeClients, sts: PostgresStatefulSet, timeoutMs = 180_000): Promise<void> {
  type Sts = {
    metadata?: { name?: string; generation?: number };
    status?: { observedGeneration?: number; readyReplicas?: number; currentRevision?: string; updateRevision?: string };
  };
  await watchUntil<Sts>(clients, {
    path: `/apis/apps/v1/namespaces/${encodeURIComponent(sts.namespace)}/statefulsets`,
    name: sts.name,
    what: 'to have its pod Ready',
    predicate: (s) => !!s && (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 1) && (s.status?.readyReplicas ?? 0) >= 1,
    deadline: Date.now() + timeoutMs,
  });
}

/** A running `kubectl port-forward`: the local port on 127.0.0.1, and how to stop it. */
export interface PortForward {
  port: number;
  /** Resolves when the process has exited. */
  close(): Promise<void>;
  /** True once kubectl exited (the pod went away, or close()). */
  readonly exited: boolean;
  /** What kubectl printed (no credentials: it forwards bytes). */
  readonly output: string;
}

/**
 * `kubectl port-forward pod/<pod> :5432` on 127.0.0.1 (a free local port), what a user runs to reach
 * a database in a pod from a laptop today.
 *
 * @example
 * const pf = await portForward(kubeconfig, ns, 'pg-0');
 * // kubectl dbaas backup create ... --host 127.0.0.1 --port pf.port
 * await pf.close();
 */
export async function portForward(kubeconfig: string, namespace: string, pod: string, remotePort = 5432, timeoutMs = 30_000): Promise<PortForward> {
  const child: ChildProcess = spawn(
    'kubectl',
    ['--kubeconfig', kubeconfig, '-n', namespace, 'port-forward', '--address', '127.0.0.1', `pod/${pod}`, `:${remotePort}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let exited = false;
  const done = new Promise<void>((resolve) =>
    child.once('close', () => {
      exited = true;
      resolve();
    }),
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl port-forward pod/${pod} gave no port in ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward pod/${pod} exited ${code}: ${output}`));
    });
  });
  return {
    port,
    get exited() {
      return exited;
    },
    get output() {
      return output;
    },
    async close() {
      if (!exited) child.kill('SIGTERM');
      await done;
    },
  };
}

/**
 * A SQL connection to the StatefulSet's database through a port-forward (password from its Secret).
 *
 * @example
 * const db = await connectThrough(clients, sts, pf);
 * await db.query('select 1');
 * await db.end();
 */
export async function connectThrough(
  clients: KubeClients,
  sts: Pick<PostgresStatefulSet, 'namespace' | 'secret'>,
  pf: PortForward,
  opts: { timeoutMs?: number } = {},
): Promise<pg.Client> {
  const password = await readPassword(clients, sts.namespace, sts.secret);
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  // A pod that is Ready accepts TCP before PostgreSQL accepts logins (recovery): retry until it does.
  for (;;) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: pf.port,
      user: 'postgres',
      password,
      database: 'postgres',
      application_name: 'cli-e2e',
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline || pf.exited)
        throw new Error(
          `no SQL connection through kubectl port-forward (port ${pf.port}${pf.exited ? ', exited' : ''}): ${(error as Error).message}; kubectl said: ${pf.output.trim()}`,
          { cause: error },
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * One writer inserting a row per transaction into `t (id bigint primary key, pad text)`, keeping the
 * id and time of every commit the server acknowledged. It stops at the first error (the server
 * going away: a fence) and records when: every row acknowledged before then must be in a backup
 * cut after it.
 *
 * @example
 * const writer = new Writer(db).start();
 * ...
 * await writer.stop();
 */
export class Writer {
  readonly acked: { id: number; at: number }[] = [];
  /** When the first failed insert failed (undefined while every insert succeeds). */
  failedAt: number | undefined;
  failure: string | undefined;
  #stop = false;
  #loop: Promise<void> | undefined;
  #next: number;

  constructor(
    private readonly db: pg.Client,
    opts: { firstId?: number } = {},
  ) {
    this.#next = opts.firstId ?? 1_000_000;
  }

  start(): this {
    this.#loop = (async () => {
      while (!this.#stop) {
        const id = this.#next++;
        try {
          await this.db.query('insert into t (id, pad) values ($1::bigint, repeat(md5($2), 4))', [id, String(id)]);
          this.acked.push({ id, at: Date.now() });
        } catch (error) {
          this.failedAt = Date.now();
          this.failure = (error as Error).message;
          return;
        }
      }
    })();
    return this;
  }

  /** Stops after the insert in flight. */
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  /** Resolves once at least `n` rows are acknowledged (or throws when the writer failed). */
  async until(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < n) {
      if (this.failedAt !== undefined) throw new Error(`the writer failed: ${this.failure}`);
      if (Date.now() > deadline) throw new Error(`${this.acked.length} of ${n} rows acknowledged after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  ids(): number[] {
    return this.acked.map((a) => a.id);
  }
}

/** The table the writers fill, with 20,000 rows to make the copy more than a few pages. */
export async function seed(db: pg.Client): Promise<void> {
  await db.query('create table t (id bigint primary key, pad text not null)');
  await db.query('insert into t select g, repeat(md5(g::text), 4) from generate_series(1, 20000) g');
}

/**
 * A `--check` for `kubectl dbaas verify`: true when every one of `ids` is in `t`. The ids are
 * consecutive per writer, so the check counts the range and compares with the acknowledged count.
 */
export function ackedCheck(ids: number[], name = 'acked'): string {
  if (ids.length === 0) throw new Error('no acknowledged rows to check');
  const sorted = [...ids].sort((a, b) => a - b);
  if (sorted.at(-1)! - sorted[0]! + 1 !== sorted.length) throw new Error('acknowledged ids are not consecutive: the check would not prove each one');
  return `${name}=select count(*) = ${sorted.length} from t where id between ${sorted[0]} and ${sorted.at(-1)}`;
}

/**
 * Deletes a test namespace and waits until it is gone (its pods stopped, PVCs and their volumes
 * deleted), then deletes any VolumeSnapshotContent still bound to it (a `Retain` one outlives it).
 *
 * @example
 * afterAll(() => deleteNamespaceAndWait(clients, ns));
 */
export async function deleteNamespaceAndWait(clients: KubeClients, namespace: string, timeoutMs = 180_000): Promise<void> {
  const gone = await clients.core.deleteNamespace({ name: namespace }).then(
    () => false,
    (error: unknown) => (error as { code?: number }).code === 404,
  );
  if (!gone) {
    await watchUntil(clients, {
      path: '/api/v1/namespaces',
      name: namespace,
      what: 'to be deleted',
      predicate: (_ns, e) => isGone(e),
      deadline: Date.now() + timeoutMs,
    });
  }
  for (const c of await clients.volumeSnapshotContents.listAll()) {
    if (c.spec.volumeSnapshotRef.namespace === namespace) await clients.volumeSnapshotContents.delete(c.metadata.name!).catch(() => undefined);
  }
}
