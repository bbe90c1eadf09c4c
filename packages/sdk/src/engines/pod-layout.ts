// Where a database pod keeps its data directory in its volume, and as whom it runs, read from the
// pod's spec at backup time: the restore-prep Job and verify's pods then find PGDATA and the files'
// owner without flags, for the official images (PGDATA /var/lib/postgresql/data, 18: .../18/docker),
// Bitnami's (/bitnami/postgresql/data, uid 1001) and CloudNativePG's (/var/lib/postgresql/data/pgdata,
// uid 26), whatever the mount path.
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/**
 * An engine as the SDK names it; MySQL and MariaDB share their images' conventions.
 *
 * @example
 * ```ts
 * const engine: EngineFamily = 'mariadb';
 * ```
 */
export type EngineFamily = 'postgres' | 'mysql' | 'mariadb';

/** The environment variables by which each engine's images are recognised (for the container choice). */
const ENGINE_VARIABLES: Record<'postgres' | 'mysql', RegExp> = {
  postgres: /^(POSTGRES_|POSTGRESQL_|PGDATA$)/,
  mysql: /^(MARIADB_|MYSQL_)/,
};

/** MySQL and MariaDB images read the same kind of variables and listen on the same port. */
export const familyOf = (engine: EngineFamily): 'postgres' | 'mysql' => (engine === 'postgres' ? 'postgres' : 'mysql');

/**
 * The container that runs the database: the one whose environment names the engine's variables,
 * else the one that exposes the engine's port, else the only one.
 *
 * @example
 * ```ts
 * databaseContainer(pod, 'postgres')?.name; // 'postgres' (not the metrics sidecar)
 * ```
 */
export function databaseContainer(pod: V1Pod, engine: EngineFamily): V1Container | undefined {
  const family = familyOf(engine);
  const containers = pod.spec?.containers ?? [];
  const port = family === 'postgres' ? 5432 : 3306;
  return (
    containers.find((c) => (c.env ?? []).some((e) => ENGINE_VARIABLES[family].test(e.name))) ??
    containers.find((c) => (c.ports ?? []).some((p) => p.containerPort === port)) ??
    (containers.length === 1 ? containers[0] : undefined)
  );
}

/**
 * The data directory's place in its volume and its owner, as far as the pod spec says.
 *
 * @example
 * ```ts
 * const layout: DataLayout = { dataSubPath: 'pgdata', runAsUser: 999, source: 'PGDATA /var/lib/postgresql/data/pgdata, volume data at /var/lib/postgresql/data' };
 * ```
 */
export interface DataLayout {
  /** PGDATA relative to the volume root ('' = the root). */
  dataSubPath?: string;
  runAsUser?: number;
  fsGroup?: number;
  /** The pod's name for the data volume. */
  volume?: string;
  /** Where the database container mounts the data volume (a set's other volumes are mounted beside it). */
  mountPath?: string;
  /** What it was read from, for plans and messages. */
  source: string;
}

/** PGDATA of images that do not set it in the spec. */
function defaultDataDirectory(container: V1Container, engine: 'postgres' | 'mysql'): string {
  if (engine === 'mysql') return (container.image ?? '').includes('bitnami') ? '/bitnami/mariadb/data' : '/var/lib/mysql';
  const image = container.image ?? '';
  if (image.includes('bitnami')) return '/bitnami/postgresql/data';
  // The official image moved PGDATA under a versioned directory with 18.
  const major = /postgres(?:ql)?:(\d+)/.exec(image)?.[1];
  return major !== undefined && Number(major) >= 18 ? `/var/lib/postgresql/${major}/docker` : '/var/lib/postgresql/data';
}

/**
 * Where the data directory of `pod`'s database lies in the volume of PVC `pvc`, and the user and
 * group it runs as (the container's securityContext, else the pod's). `dataSubPath` is left out
 * when the data directory is not inside that volume's mount.
 *
 * @example
 * ```ts
 * dataLayoutOfPod(pod, 'data-pg-0', 'postgres'); // { dataSubPath: 'pgdata', runAsUser: 999, source: '...' }
 * ```
 */
export function dataLayoutOfPod(pod: V1Pod, pvc: string, engine: EngineFamily): DataLayout | undefined {
  const container = databaseContainer(pod, engine);
  if (!container) return undefined;
  const family = familyOf(engine);
  const volume = (pod.spec?.volumes ?? []).find((v) => v.persistentVolumeClaim?.claimName === pvc)?.name;
  const mount = volume === undefined ? undefined : (container.volumeMounts ?? []).find((m) => m.name === volume);
  const variable = family === 'postgres' ? (container.env ?? []).find((e) => e.name === 'PGDATA' || e.name === 'POSTGRESQL_DATA_DIR')?.value : undefined;
  const dataDirectory = path.posix.normalize(variable ?? defaultDataDirectory(container, family));
  const runAsUser = container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  let dataSubPath: string | undefined;
  if (mount) {
    const relative = path.posix.relative(path.posix.normalize(mount.mountPath), dataDirectory);
    if (relative === '' || !(relative.startsWith('..') || path.posix.isAbsolute(relative)))
      dataSubPath = path.posix.join(mount.subPath ?? '', relative).replace(/^\.$/, '');
  }
  return {
    ...(dataSubPath !== undefined ? { dataSubPath } : {}),
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    ...(fsGroup !== undefined ? { fsGroup } : {}),
    ...(volume !== undefined ? { volume } : {}),
    ...(mount ? { mountPath: path.posix.normalize(mount.mountPath) } : {}),
    source: `${variable !== undefined ? 'PGDATA' : 'the image default'} ${dataDirectory}${mount ? `, volume ${mount.name} at ${mount.mountPath}${mount.subPath ? ` (subPath ${mount.subPath})` : ''}` : ', not in the volume'} of container ${container.name}`,
  };
}

/**
 * A PVC of the database's pod, other than the one backed up, that holds part of the database.
 *
 * @example
 * ```ts
 * const part: DatabaseVolume = { claim: 'pg-1-wal', volume: 'pg-wal', holds: 'wal', source: "CloudNativePG's cnpg.io/pvcRole PG_WAL" };
 * ```
 */
export interface DatabaseVolume {
  claim: string;
  /** The pod's name for the volume (`spec.volumes[].name`). */
  volume: string;
  holds: 'wal' | 'tablespace';
  /** What says so, for messages. */
  source: string;
  /**
   * Where the database container mounts it (the `pg_wal` and tablespace links in the data
   * directory point there); absent when the container does not mount it.
   */
  mountPath?: string;
  /** The mount's `subPath`, when it mounts a directory of the volume rather than its root. */
  subPath?: string;
}

/**
 * The PVC label by which a user says that a PVC of a database pod holds its `pg_wal` (`wal`) or a
 * tablespace (`tablespace`), for workloads without CloudNativePG's `cnpg.io/pvcRole`.
 *
 * @example
 * ```ts
 * // kubectl label pvc tbs-pg-0 dbaas.io/holds=tablespace
 * ```
 */
export const HOLDS_LABEL = 'dbaas.io/holds';

/** The variables by which the official (`POSTGRES_INITDB_WALDIR`) and Bitnami images put pg_wal elsewhere. */
const WAL_DIRECTORY_VARIABLES = ['POSTGRES_INITDB_WALDIR', 'POSTGRESQL_INITDB_WAL_DIR'] as const;

/**
 * The PVCs of `pod`, besides `pvc`, that hold part of its PostgreSQL: the WAL directory or
 * tablespaces, as CloudNativePG's PVC labels (`cnpg.io/pvcRole`), the `dbaas.io/holds` PVC label
 * or the images' WAL directory variables say. A backup of `pvc` alone would restore a data directory whose `pg_wal` or
 * tablespace links point nowhere. `claimLabels` are the labels of the pod's PVCs, by name.
 *
 * @example
 * ```ts
 * databaseVolumesBeyond(pod, 'pg-1', { 'pg-1-wal': { 'cnpg.io/pvcRole': 'PG_WAL' } }); // [{ claim: 'pg-1-wal', holds: 'wal', ... }]
 * ```
 */
export function databaseVolumesBeyond(pod: V1Pod, pvc: string, claimLabels: Readonly<Record<string, Record<string, string> | undefined>>): DatabaseVolume[] {
  const container = databaseContainer(pod, 'postgres');
  const found: DatabaseVolume[] = [];
  for (const volume of pod.spec?.volumes ?? []) {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (!claim || claim === pvc) continue;
    const mount = (container?.volumeMounts ?? []).find((m) => m.name === volume.name);
    const mounted = mount ? { mountPath: path.posix.normalize(mount.mountPath), ...(mount.subPath ? { subPath: mount.subPath } : {}) } : {};
    const role = claimLabels[claim]?.['cnpg.io/pvcRole'];
    if (role === 'PG_WAL' || role === 'PG_TABLESPACE') {
      found.push({
        claim,
        volume: volume.name,
        holds: role === 'PG_WAL' ? 'wal' : 'tablespace',
        source: `CloudNativePG's cnpg.io/pvcRole ${role}`,
        ...mounted,
      });
      continue;
    }
    // What a plain StatefulSet can say of its own PVCs (a tablespace leaves no trace in the pod spec).
    const holds = claimLabels[claim]?.[HOLDS_LABEL];
    if (holds === 'wal' || holds === 'tablespace') {
      found.push({ claim, volume: volume.name, holds, source: `label ${HOLDS_LABEL}=${holds}`, ...mounted });
      continue;
    }
    if (!mount) continue;
    for (const variable of WAL_DIRECTORY_VARIABLES) {
      const value = (container?.env ?? []).find((e) => e.name === variable)?.value;
      if (value === undefined || value === '') continue;
      const relative = path.posix.relative(path.posix.normalize(mount.mountPath), path.posix.normalize(value));
      if (relative === '' || !(relative.startsWith('..') || path.posix.isAbsolute(relative))) {
        found.push({
          claim,
          volume: volume.name,
          holds: 'wal',
          source: `${variable}=${value}, inside volume ${volume.name} at ${mount.mountPath}`,
          ...mounted,
        });
      }
    }
  }
  return found;
}
