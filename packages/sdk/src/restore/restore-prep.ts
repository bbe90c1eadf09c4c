// Who runs the restore-prep step of an `online` restore (copy the backup's WAL segments into
// pg_wal/, write backup_label). In a cluster that is a Job (buildRestorePrepJob); a caller may
// supply its own executor that runs the same command with the same environment.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { DbaasError, isDbaasError } from '../errors.js';
import type { KubeClients } from '../kube/clients.js';
import { diagnoseJob, failFastWhenStuck } from '../kube/pod-diagnosis.js';
import { watchUntil } from '../kube/watch-until.js';

/**
 * What a {@link RestorePrepExecutor} is asked to do: run `job`'s one container (command and
 * environment) with `dataPvc` mounted at `/dbaas/data` and `walPvc` read-only at `/dbaas/wal`.
 *
 * @example
 * ```ts
 * const env = Object.fromEntries(request.job.spec!.template.spec!.containers[0]!.env!.map((e) => [e.name, e.value ?? '']));
 * ```
 */
export interface RestorePrepRequest {
  namespace: string;
  /** The Job as ManifestBuilder.restorePrepJob built it. */
  job: V1Job;
  dataPvc: string;
  /** The volume the WAL comes from; absent for a Job that only re-points links (buildRelinkJob). */
  walPvc?: string;
  /** Epoch ms. */
  deadline: number;
  signal?: AbortSignal;
}

/**
 * Runs the restore-prep step. Resolves with the step's output once the data volume holds the WAL
 * segments and `backup_label`; rejects with `RESTORE_PREP_FAILED` (the script's message), a
 * timeout or an abort, leaving nothing of its own behind (a Job it created is deleted).
 *
 * @example
 * ```ts
 * const executor: RestorePrepExecutor = jobRestorePrepExecutor();
 * ```
 */
export interface RestorePrepExecutor {
  /** For progress and error messages, e.g. `Job in the cluster`. */
  readonly description: string;
  run(clients: KubeClients, request: RestorePrepRequest): Promise<{ output: string }>;
}

function jobFailure(job: V1Job | undefined): string | undefined {
  const failed = job?.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  return failed ? `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim() : undefined;
}

async function podLogTail(clients: KubeClients, namespace: string, jobName: string): Promise<string> {
  try {
    const pods = await clients.core.listNamespacedPod({ namespace, labelSelector: `job-name=${jobName}` });
    const newest = [...pods.items].sort((a: V1Pod, b: V1Pod) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
    )[0];
    if (!newest?.metadata?.name) return '';
    const log = await clients.core.readNamespacedPodLog({ namespace, name: newest.metadata.name, tailLines: 20 });
    return String(log).trim();
  } catch {
    return '';
  }
}

/**
 * The executor for real clusters: creates the Job, watches it to `Complete` (its pod is also the
 * first consumer of WaitForFirstConsumer volumes), reads the pod's log on failure, and deletes the
 * Job (and its pods) in every case.
 *
 * @example
 * ```ts
 * await restoreClient.restore({ ..., prep: { executor: jobRestorePrepExecutor(), image: 'postgres:17', runAsUser: 999 } });
 * ```
 */
export function jobRestorePrepExecutor(): RestorePrepExecutor {
  return {
    description: 'a Job in the cluster',
    async run(clients, request) {
      const name = request.job.metadata!.name!;
      const { namespace } = request;
      await clients.batch.createNamespacedJob({ namespace, body: request.job });
      try {
        const done = await failFastWhenStuck(clients, { namespace, job: name, what: `restore-prep Job ${namespace}/${name}`, signal: request.signal }, (stop) =>
          watchUntil<V1Job>(clients, {
            path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
            name,
            predicate: (job) =>
              job === undefined ||
              (job.status?.succeeded ?? 0) > 0 ||
              (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'),
            deadline: request.deadline,
            signal: stop,
            what: 'to complete',
            describe: (job) => `active ${job?.status?.active ?? 0}, failed ${job?.status?.failed ?? 0}`,
          }),
        ).catch(async (error: unknown) => {
          // A timeout alone says nothing of why: read the Job's pods and events before it is deleted.
          if (!isDbaasError(error, 'KUBE_TIMEOUT')) throw error;
          const why = await diagnoseJob(clients, namespace, name);
          throw new DbaasError('KUBE_TIMEOUT', `${error.message}; ${why.reason}`, {
            fix: why.fix,
            cause: error,
            details: { ...error.details, ...why.details },
          });
        });
        const log = await podLogTail(clients, namespace, name);
        if (done.object === undefined) throw new DbaasError('RESTORE_PREP_FAILED', `restore-prep Job ${namespace}/${name} was deleted before it completed`);
        const failure = jobFailure(done.object);
        if (failure) {
          throw new DbaasError(
            'RESTORE_PREP_FAILED',
            `restore-prep Job ${namespace}/${name} failed (${failure})${
              log
                ? `: ${
                    log
                      .split('\n')
                      .filter((l) => l.startsWith('dbaas-restore-prep'))
                      .pop() ?? log
                  }`
                : ''
            }`,
            {
              fix: 'Read the message above: usually a WAL segment missing from the -wal snapshot, or an image without /bin/sh, cp, base64 and cmp (pass prep.image).',
              details: { job: name, log },
            },
          );
        }
        return { output: log };
      } finally {
        await clients.batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' }).catch((error: unknown) => {
          if (!isDbaasError(error, 'KUBE_NOT_FOUND')) throw error;
        });
      }
    },
  };
}
