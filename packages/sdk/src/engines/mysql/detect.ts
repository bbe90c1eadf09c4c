// Which database engine a workload runs, from what Kubernetes shows of it: container images,
// labels, PVC names. A pure function: the caller reads the Pod / StatefulSet / PVC.
//
// The origin design (seed/001) picks the instance type per workload and names PVCs
// `data-<instance>-<type>-local-0` (its example: `data-my-postgres-postgresql-local-0`); the same
// scheme gives `data-<instance>-mysql-local-0` and `data-<instance>-mariadb-local-0`. Helm charts
// (Bitnami) name them `data-<release>-mysql-0` / `data-<release>-mariadb-0`.

/**
 * What the detection looks at.
 *
 * @example
 * ```ts
 * const input: EngineDetectionInput = { images: ['docker.io/library/mariadb:11.4'], labels: { 'app.kubernetes.io/name': 'mariadb' }, pvcName: 'data-shop-mariadb-local-0' };
 * ```
 */
export interface EngineDetectionInput {
  /** Images of the workload's containers (init containers excluded by the caller). */
  images?: readonly string[];
  /** Labels of the Pod / StatefulSet. */
  labels?: Readonly<Record<string, string>>;
  /**
   * Names of the environment variables of the workload's containers (values are never needed):
   * the official images are configured by `POSTGRES_*`/`PGDATA`, `MARIADB_*`, `MYSQL_*`.
   */
  envNames?: readonly string[];
  /** Name of the data PVC. */
  pvcName?: string;
}

/**
 * The engine a workload runs, and the evidence.
 *
 * @example
 * ```ts
 * const d: EngineDetection = { engine: 'mariadb', source: 'image', evidence: 'image mariadb:11.4' };
 * ```
 */
export interface EngineDetection {
  /** `undefined` when nothing says, or the evidence conflicts at the strongest level that says anything. */
  engine: 'postgres' | 'mysql' | 'mariadb' | undefined;
  /** Which rule decided: the explicit label, an image, a well-known label, the PVC name. */
  source: 'label:dbaas.io/engine' | 'image' | 'env' | 'label' | 'pvc-name' | 'none' | 'conflict';
  evidence: string;
}

/**
 * Label a user can put on the Pod/StatefulSet to say the engine outright (wins over everything).
 *
 * @example
 * ```ts
 * // kubectl label sts shop dbaas.io/engine=mariadb
 * ```
 */
export const ENGINE_LABEL = 'dbaas.io/engine';

type Engine = 'postgres' | 'mysql' | 'mariadb';

// Image repository names (the last path component), per engine. Percona Server and Percona
// XtraDB Cluster are MySQL; exporters and sidecars (mysqld-exporter, postgres-exporter) are not.
const IMAGE_NAMES: Record<string, Engine> = {
  mariadb: 'mariadb',
  'mariadb-galera': 'mariadb',
  'mariadb-server': 'mariadb',
  mysql: 'mysql',
  'mysql-server': 'mysql',
  'community-mysql-server': 'mysql',
  'enterprise-server': 'mysql',
  percona: 'mysql',
  'percona-server': 'mysql',
  'percona-server-mysql': 'mysql',
  'percona-xtradb-cluster': 'mysql',
  postgres: 'postgres',
  postgresql: 'postgres',
  'postgresql-repmgr': 'postgres',
  postgis: 'postgres',
  spilo: 'postgres',
  'spilo-15': 'postgres',
  'spilo-16': 'postgres',
  'spilo-17': 'postgres',
  timescaledb: 'postgres',
  'timescaledb-ha': 'postgres',
};

const LABEL_KEYS = ['app.kubernetes.io/name', 'app.kubernetes.io/component', 'app', 'k8s-app', 'name'] as const;

/**
 * Repository name of an image reference: registry, path, tag and digest stripped, lower case.
 *
 * @example
 * ```ts
 * imageRepositoryName('registry.example.com:5000/team/MariaDB:11.4@sha256:abc'); // 'mariadb'
 * ```
 */
export function imageRepositoryName(image: string): string {
  let ref = image.trim().toLowerCase();
  const at = ref.indexOf('@');
  if (at >= 0) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > lastSlash) ref = ref.slice(0, colon);
  return ref.slice(lastSlash + 1);
}

function engineOfWord(word: string): Engine | undefined {
  const w = word.toLowerCase();
  if (w === 'mariadb' || w === 'mariadb-galera') return 'mariadb';
  if (w === 'mysql' || w === 'percona' || w === 'percona-server' || w === 'percona-xtradb-cluster' || w === 'pxc') return 'mysql';
  if (w === 'postgres' || w === 'postgresql' || w === 'pg' || w === 'cnpg') return 'postgres';
  return undefined;
}

// MariaDB's images accept the MYSQL_* names too, so MARIADB_* decides between the two.
function envEvidence(names: readonly string[]): { engine: Engine; evidence: string }[] {
  const pick = (re: RegExp) => names.filter((n) => re.test(n));
  const postgres = pick(/^(POSTGRES_|PGDATA$)/);
  const mariadb = pick(/^MARIADB_/);
  const mysql = mariadb.length ? [] : pick(/^MYSQL_/);
  return [
    ...(postgres.length ? [{ engine: 'postgres' as const, evidence: `env ${postgres.join(', ')}` }] : []),
    ...(mariadb.length ? [{ engine: 'mariadb' as const, evidence: `env ${mariadb.join(', ')}` }] : []),
    ...(mysql.length ? [{ engine: 'mysql' as const, evidence: `env ${mysql.join(', ')}` }] : []),
  ];
}

function decide(found: { engine: Engine; evidence: string }[], source: EngineDetection['source']): EngineDetection | undefined {
  if (found.length === 0) return undefined;
  const engines = [...new Set(found.map((f) => f.engine))];
  if (engines.length > 1)
    return { engine: undefined, source: 'conflict', evidence: `${source} evidence disagrees: ${found.map((f) => `${f.evidence} -> ${f.engine}`).join('; ')}` };
  return { engine: engines[0], source, evidence: found.map((f) => f.evidence).join('; ') };
}

/**
 * Detects the engine of a workload, strongest evidence first:
 *
 * 1. the label `dbaas.io/engine` (`postgres`, `mysql`, `mariadb`);
 * 2. container images, by repository name (`mariadb`, `mysql`, `percona-server`, `bitnami/mariadb`,
 *    `postgres`, `cloudnative-pg/postgresql`, ...; sidecars such as `mysqld-exporter` do not count);
 * 3. environment variable names of the official images: `POSTGRES_*`/`PGDATA` (PostgreSQL),
 *    `MARIADB_*` (MariaDB; its images also accept the `MYSQL_*` names), `MYSQL_*` (MySQL);
 * 4. well-known labels (`app.kubernetes.io/name`, `app`, ...) whose value is an engine name;
 * 5. the PVC name: a `-`-separated word naming an engine (`data-shop-mariadb-local-0`,
 *    `data-db-mysql-0`, `data-my-postgres-postgresql-local-0`).
 *
 * At the first level with any evidence, agreement decides and disagreement is a `conflict`
 * (engine `undefined`); lower levels are not consulted then. Pure.
 *
 * @example
 * ```ts
 * detectEngine({ images: ['bitnami/mariadb:11.4.3'] }).engine; // 'mariadb'
 * detectEngine({ pvcName: 'data-shop-mysql-local-0' }); // { engine: 'mysql', source: 'pvc-name', ... }
 * detectEngine({ images: ['mysql:8.4', 'postgres:17'] }).source; // 'conflict'
 * ```
 */
export function detectEngine(input: EngineDetectionInput): EngineDetection {
  const explicit = input.labels?.[ENGINE_LABEL];
  if (explicit !== undefined) {
    const e = explicit.toLowerCase();
    if (e === 'postgres' || e === 'mysql' || e === 'mariadb') return { engine: e, source: `label:${ENGINE_LABEL}`, evidence: `${ENGINE_LABEL}=${explicit}` };
    return { engine: undefined, source: 'conflict', evidence: `${ENGINE_LABEL}=${explicit} is not one of postgres, mysql, mariadb` };
  }
  const byImage = decide(
    (input.images ?? []).flatMap((image) => {
      const engine = IMAGE_NAMES[imageRepositoryName(image)];
      return engine ? [{ engine, evidence: `image ${image}` }] : [];
    }),
    'image',
  );
  if (byImage) return byImage;
  const byEnv = decide(envEvidence(input.envNames ?? []), 'env');
  if (byEnv) return byEnv;
  const byLabel = decide(
    LABEL_KEYS.flatMap((key) => {
      const value = input.labels?.[key];
      const engine = value === undefined ? undefined : engineOfWord(value);
      return engine ? [{ engine, evidence: `label ${key}=${value}` }] : [];
    }),
    'label',
  );
  if (byLabel) return byLabel;
  if (input.pvcName) {
    const words = input.pvcName.toLowerCase().split('-');
    const byName = decide(
      words.flatMap((w) => {
        const engine = w === 'pg' || w === 'cnpg' ? undefined : engineOfWord(w); // too short to trust in a name
        return engine ? [{ engine, evidence: `PVC name ${input.pvcName} (word "${w}")` }] : [];
      }),
      'pvc-name',
    );
    if (byName) return byName;
  }
  return { engine: undefined, source: 'none', evidence: 'no image, label or PVC name names an engine' };
}
