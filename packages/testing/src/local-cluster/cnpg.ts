// CloudNativePG on the local cluster: the release's own install manifest, applied with the locally
// built operator and operand images (see node/images.ts), and the waits that make "installed" mean
// the operator reconciles and its webhooks answer. See docs/testing-cluster.md, "CloudNativePG".
import { pollUntil } from '../assertions.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { CNPG_OPERATOR_IMAGE, CNPG_POSTGRES_IMAGE } from '../node/images.js';
import { loadVersions } from './binaries.js';
import { STORAGE_CLASS } from './cluster.js';

/** The operator's namespace and Deployment, as the release manifest names them. */
export const CNPG_NAMESPACE = 'cnpg-system';
export const CNPG_DEPLOYMENT = 'cnpg-controller-manager';
/** The field manager of our server-side apply. */
const FIELD_MANAGER = 'dbaas-testing';

/** A container of a Deployment's pod template, as far as {@link localizeCnpgManifest} touches it. */
interface ManifestContainer {
  name?: string;
  image?: string;
  imagePullPolicy?: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
}

/**
 * The release manifest with the local images: the operator Deployment runs {@link CNPG_OPERATOR_IMAGE}
 * without pulling (`IfNotPresent`: nothing can be pulled here), tells the operator that image
 * (`OPERATOR_IMAGE_NAME`: instance pods copy the manager from it) and the default operand image
 * (`POSTGRES_IMAGE_NAME`: a Cluster without `imageName` runs {@link CNPG_POSTGRES_IMAGE}). Everything
 * else is the release's, unchanged. Throws when the manifest has no operator Deployment.
 *
 * @example
 * const objects = localizeCnpgManifest(parseManifest(text), { operator: CNPG_OPERATOR_IMAGE, postgres: CNPG_POSTGRES_IMAGE });
 */
export function localizeCnpgManifest(objects: KubernetesObject[], images: { operator: string; postgres: string }): KubernetesObject[] {
  let found = false;
  const out = objects.map((obj) => {
    if (obj.kind !== 'Deployment' || obj.metadata?.name !== CNPG_DEPLOYMENT) return obj;
    found = true;
    const copy = structuredClone(obj) as KubernetesObject & { spec: { template: { spec: { containers: ManifestContainer[] } } } };
    for (const c of copy.spec.template.spec.containers) {
      if (c.name !== 'manager') continue;
      c.image = images.operator;
      c.imagePullPolicy = 'IfNotPresent';
      const env = (c.env ?? []).filter((e) => e.name !== 'OPERATOR_IMAGE_NAME' && e.name !== 'POSTGRES_IMAGE_NAME');
      c.env = [...env, { name: 'OPERATOR_IMAGE_NAME', value: images.operator }, { name: 'POSTGRES_IMAGE_NAME', value: images.postgres }];
    }
    return copy;
  });
  if (!found) throw new Error(`the CloudNativePG manifest has no Deployment ${CNPG_NAMESPACE}/${CNPG_DEPLOYMENT}`);
  return out;
}

/**
 * The objects of a multi-document YAML manifest, deserialized into the client's models (a CRD's
 * `x-kubernetes-int-or-string` becomes the field the client serializes back; taken raw, the client
 * would drop it and the API refuse the CRD).
 */
export function parseManifest(text: string): KubernetesObject[] {
  return (loadAllYaml(text) as (KubernetesObject | null)[]).filter((o): o is KubernetesObject => o !== null && typeof o?.kind === 'string');
}

/**
 * Where the release's install manifest is: `$DBAAS_TESTING_CNPG_MANIFEST`, else beside the prebuilt
 * binaries (`$DBAAS_TESTING_BIN_DIR/../cloudnative-pg-<version>/<file>`, the layout of the
 * project's prebuilt tree).
 */
export async function cnpgManifestPath(binDir = process.env.DBAAS_TESTING_BIN_DIR): Promise<{ file: string; sha256: string; version: string }> {
  const { cloudnativePg } = await loadVersions();
  const file =
    process.env.DBAAS_TESTING_CNPG_MANIFEST ??
    (binDir ? path.join(binDir, '..', `cloudnative-pg-${cloudnativePg.version}`, cloudnativePg.manifest) : undefined);
  if (!file) {
    throw new Error(
      `no CloudNativePG ${cloudnativePg.version} install manifest: set DBAAS_TESTING_CNPG_MANIFEST to the release's ${cloudnativePg.manifest} ` +
        '(or DBAAS_TESTING_BIN_DIR to a prebuilt tree that has it beside the binaries)',
    );
  }
  return { file, sha256: cloudnativePg.manifestSha256, version: cloudnativePg.version };
}

/** Reads and checks the release manifest (its sha256 is pinned in go/versions.json); with the release's version. */
export async function readCnpgManifest(binDir?: string): Promise<{ objects: KubernetesObject[]; version: string }> {
  const { file, sha256, version } = await cnpgManifestPath(binDir);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`cannot read the CloudNativePG ${version} install manifest ${file}: ${(err as Error).message}`);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new Error(`${file} has sha256 ${actual}, not the release's ${sha256} (go/versions.json, cloudnativePg): use the unchanged release manifest`);
  }
  return { objects: parseManifest(bytes.toString('utf8')), version };
}

/**
 * Polls `check` every `intervalMs` until it returns a value (an error counts as not yet, and the
 * last one is named if time runs out): the one wait of the CloudNativePG helpers and their tests.
 *
 * @example
 * const pod = await untilCnpg('the primary elected', 60_000, async () => (await readCnpgCluster(kc, ns, 'pg')).currentPrimary);
 */
export async function untilCnpg<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 1000): Promise<T> {
  return await pollUntil(`CloudNativePG: ${what}`, timeoutMs, check, { intervalMs });
}

/** What {@link installCnpgOperator} measured. */
export interface CnpgInstallResult {
  version: string;
  /** Seconds until the Deployment was available and the webhooks answered. */
  seconds: number;
}

/**
 * Installs the CloudNativePG operator from the release manifest with the local images (server-side
 * apply: running it again changes nothing), then waits until the CRDs are established, the operator
 * is available, it has put its CA into both webhook configurations and a dry-run Cluster comes
 * back from its webhooks with the local operand image. The node
 * must have the CloudNativePG images (`LocalClusterOptions.nodeImages`).
 *
 * @example
 * const { seconds } = await installCnpgOperator(kc, { log: console.error });
 */
export async function installCnpgOperator(kc: KubeConfig, opts: { timeoutMs?: number; log?: (l: string) => void } = {}): Promise<CnpgInstallResult> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const release = await readCnpgManifest();
  const { version } = release;
  const objects = localizeCnpgManifest(release.objects, { operator: CNPG_OPERATOR_IMAGE, postgres: CNPG_POSTGRES_IMAGE });
  const api = KubernetesObjectApi.makeApiClient(kc);
  const apply = (obj: KubernetesObject) => api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  const first = objects.filter((o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition');
  for (const obj of first) await apply(obj);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of first.filter((o) => o.kind === 'CustomResourceDefinition')) {
    await untilCnpg(`CRD ${crd.metadata!.name} established`, timeoutMs, async () => {
      const c = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return (c.status?.conditions ?? []).some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
    });
  }
  for (const obj of objects.filter((o) => !first.includes(o))) await apply(obj);
  opts.log?.(`[dbaas-testing] CloudNativePG ${version}: manifest applied, waiting for the operator`);
  const apps = kc.makeApiClient(AppsV1Api);
  await untilCnpg(`Deployment ${CNPG_NAMESPACE}/${CNPG_DEPLOYMENT} available`, timeoutMs, async () => {
    const d = await apps.readNamespacedDeployment({ namespace: CNPG_NAMESPACE, name: CNPG_DEPLOYMENT });
    return (d.status?.availableReplicas ?? 0) >= 1 ? true : undefined;
  });
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  await untilCnpg('webhook configurations carrying the operator CA', timeoutMs, async () => {
    const [validating, mutating] = await Promise.all([
      admission.readValidatingWebhookConfiguration({ name: 'cnpg-validating-webhook-configuration' }),
      admission.readMutatingWebhookConfiguration({ name: 'cnpg-mutating-webhook-configuration' }),
    ]);
    const hooks = [...(validating.webhooks ?? []), ...(mutating.webhooks ?? [])];
    return hooks.length > 0 && hooks.every((h) => (h.clientConfig.caBundle ?? '').length > 0) ? true : undefined;
  });
  // A dry-run Cluster goes through both webhooks (failurePolicy Fail: an unreachable webhook is an
  // error); the defaulting webhook gives it the operator's default operand image, the local one.
  await untilCnpg('an answer of the defaulting webhook', timeoutMs, async () => {
    const probe = (await api.create(
      {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Cluster',
        metadata: { name: 'webhook-probe', namespace: 'default' },
        spec: { instances: 1, storage: { size: '1Gi' } },
      } as KubernetesObject,
      undefined,
      'All',
    )) as KubernetesObject & { spec?: { imageName?: string } };
    if (probe.spec?.imageName !== CNPG_POSTGRES_IMAGE) {
      throw new Error(`the defaulting webhook gave a Cluster the image ${probe.spec?.imageName ?? '(none)'}, not ${CNPG_POSTGRES_IMAGE}`);
    }
    return true;
  });
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  opts.log?.(`[dbaas-testing] CloudNativePG ${version}: operator ready, webhooks answering, after ${seconds} s`);
  return { version, seconds };
}

/** Options of {@link cnpgClusterManifest}. */
export interface CnpgClusterOptions {
  namespace: string;
  name: string;
  /** Default 2: a primary and a streaming standby. */
  instances?: number;
  /** Default the hostpath driver's StorageClass. */
  storageClass?: string;
  /** Size of each data volume (and WAL volume). Default 1Gi. */
  size?: string;
  /** A second PVC per instance for pg_wal (`spec.walStorage`). Default false. */
  walStorage?: boolean;
  /** `enableSuperuserAccess`: the `<name>-superuser` Secret. Default true (tests connect as postgres). */
  superuserAccess?: boolean;
  /** `spec.postgresql.parameters`. */
  parameters?: Record<string, string>;
  /** More of `spec` (`bootstrap`, `managed`, ...), laid over the rest. */
  spec?: Record<string, unknown>;
}

/**
 * A CloudNativePG `Cluster` on the local cluster's storage, with the local operand image (also the
 * operator's default). `spec.postgresql.parameters` default to the origin design's
 * (`checkpoint_completion_target`, `wal_buffers`).
 *
 * @example
 * const cluster = cnpgClusterManifest({ namespace: 'db', name: 'pg', walStorage: true });
 */
export function cnpgClusterManifest(opts: CnpgClusterOptions): KubernetesObject & { spec: Record<string, unknown> } {
  const storage = { size: opts.size ?? '1Gi', storageClass: opts.storageClass ?? STORAGE_CLASS };
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name: opts.name, namespace: opts.namespace },
    spec: {
      instances: opts.instances ?? 2,
      imageName: CNPG_POSTGRES_IMAGE,
      enableSuperuserAccess: opts.superuserAccess ?? true,
      postgresql: { parameters: opts.parameters ?? { checkpoint_completion_target: '0.9', wal_buffers: '16MB' } },
      storage,
      ...(opts.walStorage ? { walStorage: storage } : {}),
      ...opts.spec,
    },
  };
}

/** What a CloudNativePG Cluster reports, as far as the tests read it. */
export interface CnpgClusterStatus {
  phase?: string;
  instances?: number;
  readyInstances?: number;
  currentPrimary?: string;
  instanceNames?: string[];
  healthyPVC?: string[];
}

/** The Cluster's status (`postgresql.cnpg.io/v1`). */
export async function readCnpgCluster(kc: KubeConfig, namespace: string, name: string): Promise<CnpgClusterStatus> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const obj = (await api.getNamespacedCustomObject({ group: 'postgresql.cnpg.io', version: 'v1', namespace, plural: 'clusters', name })) as {
    status?: CnpgClusterStatus;
  };
  return obj.status ?? {};
}

/** CloudNativePG's phase of a Cluster whose every instance is ready and streaming. */
export const CNPG_HEALTHY_PHASE = 'Cluster in healthy state';

/**
 * Creates the Cluster (server-side apply) and waits until CloudNativePG reports it healthy with
 * every instance ready; returns the status then.
 *
 * @example
 * const status = await createCnpgCluster(kc, { namespace: 'db', name: 'pg' });
 * status.currentPrimary; // 'pg-1'
 */
export async function createCnpgCluster(kc: KubeConfig, opts: CnpgClusterOptions, wait: { timeoutMs?: number } = {}): Promise<CnpgClusterStatus> {
  const manifest = cnpgClusterManifest(opts);
  await KubernetesObjectApi.makeApiClient(kc).patch(manifest, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  return await waitCnpgClusterHealthy(kc, opts.namespace, opts.name, wait.timeoutMs ?? 600_000);
}

/** Waits until the Cluster is in {@link CNPG_HEALTHY_PHASE} with every instance ready. */
export async function waitCnpgClusterHealthy(kc: KubeConfig, namespace: string, name: string, timeoutMs: number): Promise<CnpgClusterStatus> {
  let last: CnpgClusterStatus = {};
  try {
    return await untilCnpg(`Cluster ${namespace}/${name} healthy`, timeoutMs, async () => {
      last = await readCnpgCluster(kc, namespace, name);
      return last.phase === CNPG_HEALTHY_PHASE && last.instances !== undefined && last.readyInstances === last.instances ? last : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: phase "${last.phase ?? ''}", ${last.readyInstances ?? 0}/${last.instances ?? '?'} ready`);
  }
}

/** The `<cluster>-superuser` Secret's user and password (with `enableSuperuserAccess`). */
export async function cnpgSuperuser(kc: KubeConfig, namespace: string, cluster: string): Promise<{ user: string; password: string }> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: `${cluster}-superuser` });
  const field = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  return { user: field('username'), password: field('password') };
}
