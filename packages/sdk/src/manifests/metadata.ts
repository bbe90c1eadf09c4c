// The labels and annotations kubectl-dbaas puts on every snapshot (docs/sdk.md, "Snapshot metadata
// schema") and on restored PVCs: ONE zod codec per object kind that writes them
// (`encode`) and reads them (`decode`). LSNs go through wal/lsn.ts, the one LSN parser.
import * as z from 'zod';
import { DbaasError } from '../errors.js';
import { assertLabelValue } from './names.js';
import { assertWalSegmentSize, formatLsn, isWalFileName, parseLsn, type Lsn } from '../wal/lsn.js';

/**
 * The metadata schema version this SDK writes and the only one it reads.
 *
 * @example
 * ```ts
 * vs.metadata.annotations?.['dbaas.io/schema-version'] === SNAPSHOT_METADATA_SCHEMA_VERSION;
 * ```
 */
export const SNAPSHOT_METADATA_SCHEMA_VERSION = '1';
/**
 * `app.kubernetes.io/managed-by` value of everything kubectl-dbaas creates.
 *
 * @example
 * ```ts
 * const selector = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
 * ```
 */
export const MANAGED_BY = 'kubectl-dbaas';

/**
 * Label keys (values of at most 63 characters; selectable).
 *
 * @example
 * ```ts
 * const selector = `${DBAAS_LABELS.backupSet}=nightly`;
 * ```
 */
export const DBAAS_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  backupSource: 'dbaas.io/backup-source',
  backupType: 'dbaas.io/backup-type',
  backupSet: 'dbaas.io/backup-set',
  role: 'dbaas.io/role',
  restoredFrom: 'dbaas.io/restored-from',
  restoreType: 'dbaas.io/restore-type',
} as const;

/**
 * Annotation keys.
 *
 * @example
 * ```ts
 * const stop = vs.metadata.annotations?.[DBAAS_ANNOTATIONS.stopLsn];
 * ```
 */
export const DBAAS_ANNOTATIONS = {
  schemaVersion: 'dbaas.io/schema-version',
  engine: 'dbaas.io/engine',
  engineVersion: 'dbaas.io/engine-version',
  mode: 'dbaas.io/mode',
  systemIdentifier: 'dbaas.io/system-identifier',
  timeline: 'dbaas.io/timeline',
  checkpointLsn: 'dbaas.io/checkpoint-lsn',
  redoLsn: 'dbaas.io/redo-lsn',
  startLsn: 'dbaas.io/start-lsn',
  stopLsn: 'dbaas.io/stop-lsn',
  firstWalFile: 'dbaas.io/first-wal-file',
  lastWalFile: 'dbaas.io/last-wal-file',
  walSegmentSize: 'dbaas.io/wal-segment-size',
  backupLabel: 'dbaas.io/backup-label',
  tablespaceMap: 'dbaas.io/tablespace-map',
  sourceWorkload: 'dbaas.io/source-workload',
  requestedAt: 'dbaas.io/requested-at',
  cutAt: 'dbaas.io/cut-at',
  readyAt: 'dbaas.io/ready-at',
  restoredFromNamespace: 'dbaas.io/restored-from-namespace',
  // MySQL/MariaDB (schema version 1, optional): the binary log position and GTID set at the
  // online backup's lock, and MySQL's server_uuid.
  binlogFile: 'dbaas.io/binlog-file',
  binlogPosition: 'dbaas.io/binlog-position',
  gtidExecuted: 'dbaas.io/gtid-executed',
  serverUuid: 'dbaas.io/server-uuid',
  // Where the data directory was in the volume and whom its files belong to, read from the pod's
  // spec at backup time (schema version 1, optional): restore and verify use them without flags.
  dataSubPath: 'dbaas.io/data-subpath',
  runAsUser: 'dbaas.io/run-as-user',
  fsGroup: 'dbaas.io/fs-group',
  // An instance whose database spans several PVCs (pg_wal or tablespaces beyond the data volume) is
  // one set (schema version 1, optional): each snapshot records the pod's name for its volume and
  // where the database container mounted it (the links inside the data directory point there); a
  // member says what it holds; the data snapshot lists the members, so a set missing one is seen.
  volume: 'dbaas.io/volume',
  mountPath: 'dbaas.io/mount-path',
  holds: 'dbaas.io/holds',
  setVolumes: 'dbaas.io/set-volumes',
  walVolume: 'dbaas.io/wal-volume',
} as const;

/**
 * What a snapshot is in its backup set: `data` (the data volume, named after the set), `wal` (an
 * `online` PostgreSQL set's second snapshot of the data volume, after `pg_backup_stop`) or `volume`
 * (another PVC of the instance that holds part of the database: its `pg_wal` or a tablespace).
 *
 * @example
 * ```ts
 * const role: SnapshotRole = 'volume';
 * ```
 */
export type SnapshotRole = 'data' | 'wal' | 'volume';
/**
 * Every {@link SnapshotRole}, in the order a set lists them.
 *
 * @example
 * ```ts
 * z.enum(SNAPSHOT_ROLES).parse(labels['dbaas.io/role']);
 * ```
 */
export const SNAPSHOT_ROLES = ['data', 'wal', 'volume'] as const satisfies readonly SnapshotRole[];

/**
 * The consistency modes of docs/consistency.md.
 *
 * @example
 * ```ts
 * const mode: ConsistencyMode = 'fenced';
 * ```
 */
export type ConsistencyMode = 'crash' | 'checkpoint' | 'fenced' | 'online';
/**
 * Every {@link ConsistencyMode}.
 *
 * @example
 * ```ts
 * z.enum(CONSISTENCY_MODES).parse(argv.mode);
 * ```
 */
export const CONSISTENCY_MODES = ['crash', 'checkpoint', 'fenced', 'online'] as const satisfies readonly ConsistencyMode[];

// ---- field codecs (wire string <-> typed value) ----------------------------------------------

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelValue = z.string().max(63).regex(LABEL_VALUE, 'must be a label value (<= 63 of [A-Za-z0-9-_.], alphanumeric at both ends)');
const nonEmptyLabelValue = labelValue.min(1);

const lsn = z.codec(z.string(), z.bigint().min(0n), {
  decode: (text, ctx) => {
    try {
      return parseLsn(text);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  },
  encode: (value: Lsn) => formatLsn(value),
});

const decimalU64 = z.codec(
  z.string().regex(/^\d{1,20}$/, 'must be a decimal integer'),
  z
    .bigint()
    .min(0n)
    .max((1n << 64n) - 1n),
  {
    decode: (text) => BigInt(text),
    encode: (value) => value.toString(),
  },
);

const positiveInt = (max: number) =>
  z.codec(z.string().regex(/^[1-9]\d{0,9}$/, 'must be a positive decimal integer'), z.number().int().min(1).max(max), {
    decode: (text) => Number(text),
    encode: (value) => String(value),
  });

const walSegmentSize = positiveInt(1024 * 1024 * 1024).refine((n) => {
  try {
    assertWalSegmentSize(n);
    return true;
  } catch {
    return false;
  }
}, 'must be a power of two between 1 MiB and 1 GiB');

const walFile = z.string().refine(isWalFileName, 'must be a WAL segment file name (24 upper-case hex digits)');

const base64Text = z.codec(z.string(), z.string(), {
  decode: (text, ctx) => {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.toString('base64') !== text) {
      ctx.issues.push({ code: 'custom', message: 'must be standard, padded base64', input: text });
      return z.NEVER;
    }
    return bytes.toString('utf8');
  },
  encode: (value) => Buffer.from(value, 'utf8').toString('base64'),
});

// MySQL `mysql-bin.000042`, MariaDB `mariadb-bin.000003`: a base name and a numeric extension.
const binlogFile = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9_][\w.-]*\.\d{6,}$/, 'must be a binary log file name such as mysql-bin.000042');
// MySQL `uuid:1-5,uuid:1-3` (whitespace removed), MariaDB `domain-server-seq` lists.
const gtidSet = z
  .string()
  .min(1)
  .max(65536)
  .regex(/^[0-9A-Za-z:,_-]+$/, 'must be a GTID set (MySQL uuid:interval lists or MariaDB domain-server-sequence lists)');
// PGDATA relative to the volume root: '' (the root) or a relative path without `..` or empty parts.
const dataSubPath = z
  .string()
  .max(1024)
  .regex(/^$|^(?!\.\.?(\/|$))[^/\0]+(\/(?!\.\.?(\/|$))[^/\0]+)*$/, 'must be a path relative to the volume root, without ..');
const unixId = z.codec(z.string().regex(/^\d{1,10}$/, 'must be a decimal user or group id'), z.number().int().min(0).max(0xffffffff), {
  decode: (text) => Number(text),
  encode: (value) => String(value),
});
// The pod's name for a volume (`spec.volumes[].name`): a DNS label.
const volumeName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a volume name (a DNS label)');
const absolutePath = z
  .string()
  .max(1024)
  .regex(/^\/(?!.*(^|\/)\.\.?(\/|$))[^\0]*$/, 'must be an absolute path without . or .. segments');
const volumeList = z.codec(z.string().regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, 'must be a comma-separated list of volume names'), z.array(z.string()), {
  decode: (text) => text.split(','),
  encode: (names) => names.join(','),
});
const serverUuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

const isoTime = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (text) => new Date(text),
  encode: (date) => date.toISOString(),
});

const workload = z.codec(
  z.string().regex(/^[A-Za-z][\w.-]*\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be <Kind>/<name>, e.g. StatefulSet/pg'),
  z.object({ kind: z.string(), name: z.string() }),
  {
    decode: (text) => {
      const i = text.indexOf('/');
      return { kind: text.slice(0, i), name: text.slice(i + 1) };
    },
    encode: (w) => `${w.kind}/${w.name}`,
  },
);

// ---- the snapshot metadata codec -----------------------------------------------------------------

const snapshotWire = z.object({
  labels: z.object({
    [DBAAS_LABELS.managedBy]: z.literal(MANAGED_BY),
    [DBAAS_LABELS.backupSource]: nonEmptyLabelValue,
    [DBAAS_LABELS.backupType]: z.literal('volumesnapshot'),
    [DBAAS_LABELS.backupSet]: nonEmptyLabelValue,
    [DBAAS_LABELS.role]: z.enum(SNAPSHOT_ROLES),
  }),
  annotations: z.object({
    [DBAAS_ANNOTATIONS.schemaVersion]: z.literal(SNAPSHOT_METADATA_SCHEMA_VERSION),
    [DBAAS_ANNOTATIONS.engine]: z.enum(['postgres', 'mysql', 'mariadb']).optional(),
    [DBAAS_ANNOTATIONS.engineVersion]: z
      .string()
      .regex(/^\d+(\.\d+){0,2}\w*$/, 'must be a version such as 17.6')
      .optional(),
    [DBAAS_ANNOTATIONS.mode]: z.enum(CONSISTENCY_MODES),
    [DBAAS_ANNOTATIONS.systemIdentifier]: decimalU64.optional(),
    [DBAAS_ANNOTATIONS.timeline]: positiveInt(0xffffffff).optional(),
    [DBAAS_ANNOTATIONS.checkpointLsn]: lsn.optional(),
    [DBAAS_ANNOTATIONS.redoLsn]: lsn.optional(),
    [DBAAS_ANNOTATIONS.startLsn]: lsn.optional(),
    [DBAAS_ANNOTATIONS.stopLsn]: lsn.optional(),
    [DBAAS_ANNOTATIONS.firstWalFile]: walFile.optional(),
    [DBAAS_ANNOTATIONS.lastWalFile]: walFile.optional(),
    [DBAAS_ANNOTATIONS.walSegmentSize]: walSegmentSize.optional(),
    [DBAAS_ANNOTATIONS.backupLabel]: base64Text.optional(),
    [DBAAS_ANNOTATIONS.tablespaceMap]: base64Text.optional(),
    [DBAAS_ANNOTATIONS.sourceWorkload]: workload.optional(),
    [DBAAS_ANNOTATIONS.binlogFile]: binlogFile.optional(),
    [DBAAS_ANNOTATIONS.binlogPosition]: decimalU64.optional(),
    [DBAAS_ANNOTATIONS.gtidExecuted]: gtidSet.optional(),
    [DBAAS_ANNOTATIONS.serverUuid]: serverUuid.optional(),
    [DBAAS_ANNOTATIONS.dataSubPath]: dataSubPath.optional(),
    [DBAAS_ANNOTATIONS.runAsUser]: unixId.optional(),
    [DBAAS_ANNOTATIONS.fsGroup]: unixId.optional(),
    [DBAAS_ANNOTATIONS.volume]: volumeName.optional(),
    [DBAAS_ANNOTATIONS.mountPath]: absolutePath.optional(),
    [DBAAS_ANNOTATIONS.holds]: z.enum(['wal', 'tablespace']).optional(),
    [DBAAS_ANNOTATIONS.setVolumes]: volumeList.optional(),
    [DBAAS_ANNOTATIONS.walVolume]: volumeName.optional(),
    [DBAAS_ANNOTATIONS.requestedAt]: isoTime,
    [DBAAS_ANNOTATIONS.cutAt]: isoTime.optional(),
    [DBAAS_ANNOTATIONS.readyAt]: isoTime.optional(),
  }),
});

const snapshotMetadataShape = z
  .object({
    schemaVersion: z.literal(SNAPSHOT_METADATA_SCHEMA_VERSION),
    backupSet: z.string(),
    role: z.enum(SNAPSHOT_ROLES),
    sourcePvc: z.string(),
    backupType: z.literal('volumesnapshot'),
    mode: z.enum(CONSISTENCY_MODES),
    engine: z.enum(['postgres', 'mysql', 'mariadb']).optional(),
    engineVersion: z.string().optional(),
    systemIdentifier: z.bigint().optional(),
    timeline: z.number().int().optional(),
    checkpointLsn: z.bigint().optional(),
    redoLsn: z.bigint().optional(),
    startLsn: z.bigint().optional(),
    stopLsn: z.bigint().optional(),
    firstWalFile: z.string().optional(),
    lastWalFile: z.string().optional(),
    walSegmentSize: z.number().int().optional(),
    backupLabel: z.string().optional(),
    tablespaceMap: z.string().optional(),
    sourceWorkload: z.object({ kind: z.string(), name: z.string() }).optional(),
    binlogFile: z.string().optional(),
    binlogPosition: z.bigint().optional(),
    gtidExecuted: z.string().optional(),
    serverUuid: z.string().optional(),
    dataSubPath: z.string().optional(),
    runAsUser: z.number().int().optional(),
    fsGroup: z.number().int().optional(),
    volume: z.string().optional(),
    mountPath: z.string().optional(),
    holds: z.enum(['wal', 'tablespace']).optional(),
    setVolumes: z.array(z.string()).optional(),
    walVolume: z.string().optional(),
    requestedAt: z.date(),
    cutAt: z.date().optional(),
    readyAt: z.date().optional(),
  })
  .superRefine((m, ctx) => {
    if (m.startLsn !== undefined && m.stopLsn !== undefined && m.stopLsn < m.startLsn) {
      ctx.addIssue({ code: 'custom', path: ['stopLsn'], message: `stop LSN ${formatLsn(m.stopLsn)} is before start LSN ${formatLsn(m.startLsn)}` });
    }
    if (m.redoLsn !== undefined && m.checkpointLsn !== undefined && m.checkpointLsn < m.redoLsn) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpointLsn'],
        message: `checkpoint LSN ${formatLsn(m.checkpointLsn)} is before its redo LSN ${formatLsn(m.redoLsn)}`,
      });
    }
    if (m.firstWalFile !== undefined && m.lastWalFile !== undefined && m.lastWalFile < m.firstWalFile) {
      ctx.addIssue({ code: 'custom', path: ['lastWalFile'], message: `last WAL file ${m.lastWalFile} sorts before the first ${m.firstWalFile}` });
    }
    if (m.binlogPosition !== undefined && m.binlogFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['binlogFile'], message: 'a binary log position needs its file' });
    }
    if (m.walVolume !== undefined && !(m.setVolumes ?? []).includes(m.walVolume)) {
      ctx.addIssue({ code: 'custom', path: ['walVolume'], message: `the WAL volume ${m.walVolume} is not one of the set's volumes` });
    }
    if (m.role === 'volume' && (m.volume === undefined || m.holds === undefined || m.mountPath === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['role'], message: 'a volume snapshot of a set needs its volume name, what it holds and its mount path' });
    }
    if (m.engineVersion !== undefined && m.engine === undefined) {
      ctx.addIssue({ code: 'custom', path: ['engine'], message: 'an engine version needs the engine' });
    }
  });

type SnapshotWire = z.output<typeof snapshotWire>;
type Shape = z.input<typeof snapshotMetadataShape>;

/**
 * The metadata schema of a kubectl-dbaas snapshot as ONE zod codec: `decode` reads
 * `{ labels, annotations }` into {@link SnapshotMetadata}; `encode` writes it back. Prefer
 * {@link readSnapshotMetadata} / {@link writeSnapshotMetadata}, which add clear errors.
 *
 * @example
 * ```ts
 * const wire = snapshotMetadataSchema.encode(meta); // { labels: {...}, annotations: {...} }
 * const again = snapshotMetadataSchema.decode(wire);
 * ```
 */
export const snapshotMetadataSchema = z.codec(snapshotWire, snapshotMetadataShape, {
  decode: (w: SnapshotWire): Shape => {
    const a = w.annotations;
    const out: Shape = {
      schemaVersion: a[DBAAS_ANNOTATIONS.schemaVersion],
      backupSet: w.labels[DBAAS_LABELS.backupSet],
      role: w.labels[DBAAS_LABELS.role],
      sourcePvc: w.labels[DBAAS_LABELS.backupSource],
      backupType: w.labels[DBAAS_LABELS.backupType],
      mode: a[DBAAS_ANNOTATIONS.mode],
      requestedAt: a[DBAAS_ANNOTATIONS.requestedAt],
    };
    const optional = {
      engine: a[DBAAS_ANNOTATIONS.engine],
      engineVersion: a[DBAAS_ANNOTATIONS.engineVersion],
      systemIdentifier: a[DBAAS_ANNOTATIONS.systemIdentifier],
      timeline: a[DBAAS_ANNOTATIONS.timeline],
      checkpointLsn: a[DBAAS_ANNOTATIONS.checkpointLsn],
      redoLsn: a[DBAAS_ANNOTATIONS.redoLsn],
      startLsn: a[DBAAS_ANNOTATIONS.startLsn],
      stopLsn: a[DBAAS_ANNOTATIONS.stopLsn],
      firstWalFile: a[DBAAS_ANNOTATIONS.firstWalFile],
      lastWalFile: a[DBAAS_ANNOTATIONS.lastWalFile],
      walSegmentSize: a[DBAAS_ANNOTATIONS.walSegmentSize],
      backupLabel: a[DBAAS_ANNOTATIONS.backupLabel],
      tablespaceMap: a[DBAAS_ANNOTATIONS.tablespaceMap],
      sourceWorkload: a[DBAAS_ANNOTATIONS.sourceWorkload],
      binlogFile: a[DBAAS_ANNOTATIONS.binlogFile],
      binlogPosition: a[DBAAS_ANNOTATIONS.binlogPosition],
      gtidExecuted: a[DBAAS_ANNOTATIONS.gtidExecuted],
      serverUuid: a[DBAAS_ANNOTATIONS.serverUuid],
      dataSubPath: a[DBAAS_ANNOTATIONS.dataSubPath],
      runAsUser: a[DBAAS_ANNOTATIONS.runAsUser],
      fsGroup: a[DBAAS_ANNOTATIONS.fsGroup],
      volume: a[DBAAS_ANNOTATIONS.volume],
      mountPath: a[DBAAS_ANNOTATIONS.mountPath],
      holds: a[DBAAS_ANNOTATIONS.holds],
      setVolumes: a[DBAAS_ANNOTATIONS.setVolumes],
      walVolume: a[DBAAS_ANNOTATIONS.walVolume],
      cutAt: a[DBAAS_ANNOTATIONS.cutAt],
      readyAt: a[DBAAS_ANNOTATIONS.readyAt],
    };
    for (const [k, v] of Object.entries(optional)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
    return out;
  },
  encode: (m: Shape): SnapshotWire => {
    const annotations: Record<string, unknown> = {
      [DBAAS_ANNOTATIONS.schemaVersion]: m.schemaVersion,
      [DBAAS_ANNOTATIONS.mode]: m.mode,
      [DBAAS_ANNOTATIONS.requestedAt]: m.requestedAt,
    };
    const optional: [string, unknown][] = [
      [DBAAS_ANNOTATIONS.engine, m.engine],
      [DBAAS_ANNOTATIONS.engineVersion, m.engineVersion],
      [DBAAS_ANNOTATIONS.systemIdentifier, m.systemIdentifier],
      [DBAAS_ANNOTATIONS.timeline, m.timeline],
      [DBAAS_ANNOTATIONS.checkpointLsn, m.checkpointLsn],
      [DBAAS_ANNOTATIONS.redoLsn, m.redoLsn],
      [DBAAS_ANNOTATIONS.startLsn, m.startLsn],
      [DBAAS_ANNOTATIONS.stopLsn, m.stopLsn],
      [DBAAS_ANNOTATIONS.firstWalFile, m.firstWalFile],
      [DBAAS_ANNOTATIONS.lastWalFile, m.lastWalFile],
      [DBAAS_ANNOTATIONS.walSegmentSize, m.walSegmentSize],
      [DBAAS_ANNOTATIONS.backupLabel, m.backupLabel],
      [DBAAS_ANNOTATIONS.tablespaceMap, m.tablespaceMap],
      [DBAAS_ANNOTATIONS.sourceWorkload, m.sourceWorkload],
      [DBAAS_ANNOTATIONS.binlogFile, m.binlogFile],
      [DBAAS_ANNOTATIONS.binlogPosition, m.binlogPosition],
      [DBAAS_ANNOTATIONS.gtidExecuted, m.gtidExecuted],
      [DBAAS_ANNOTATIONS.serverUuid, m.serverUuid],
      [DBAAS_ANNOTATIONS.dataSubPath, m.dataSubPath],
      [DBAAS_ANNOTATIONS.runAsUser, m.runAsUser],
      [DBAAS_ANNOTATIONS.fsGroup, m.fsGroup],
      [DBAAS_ANNOTATIONS.volume, m.volume],
      [DBAAS_ANNOTATIONS.mountPath, m.mountPath],
      [DBAAS_ANNOTATIONS.holds, m.holds],
      [DBAAS_ANNOTATIONS.setVolumes, m.setVolumes],
      [DBAAS_ANNOTATIONS.walVolume, m.walVolume],
      [DBAAS_ANNOTATIONS.cutAt, m.cutAt],
      [DBAAS_ANNOTATIONS.readyAt, m.readyAt],
    ];
    for (const [k, v] of optional) if (v !== undefined) annotations[k] = v;
    return {
      labels: {
        [DBAAS_LABELS.managedBy]: MANAGED_BY,
        [DBAAS_LABELS.backupSource]: m.sourcePvc,
        [DBAAS_LABELS.backupType]: m.backupType,
        [DBAAS_LABELS.backupSet]: m.backupSet,
        [DBAAS_LABELS.role]: m.role,
      },
      annotations: annotations as SnapshotWire['annotations'],
    };
  },
});

/**
 * Everything kubectl-dbaas records on a snapshot, typed. LSNs are `bigint` ({@link Lsn}),
 * `backupLabel` and `tablespaceMap` are the file texts (stored base64), times are Dates.
 *
 * @example
 * ```ts
 * const meta: SnapshotMetadata = {
 *   schemaVersion: '1', backupSet: 'nightly', role: 'data', sourcePvc: 'data-pg-0', backupType: 'volumesnapshot',
 *   mode: 'online', engine: 'postgres', engineVersion: '17.6', startLsn: parseLsn('0/5000028'), requestedAt: new Date(),
 * };
 * ```
 */
export type SnapshotMetadata = z.output<typeof snapshotMetadataSchema>;

/**
 * Labels and annotations as they are stored on an object.
 *
 * @example
 * ```ts
 * const wire: MetadataMaps = { labels: vs.metadata.labels ?? {}, annotations: vs.metadata.annotations ?? {} };
 * ```
 */
export interface MetadataMaps {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

function mapsOf(source: Partial<MetadataMaps> | { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } }): MetadataMaps {
  if ('metadata' in source && source.metadata) return { labels: source.metadata.labels ?? {}, annotations: source.metadata.annotations ?? {} };
  const s = source as Partial<MetadataMaps>;
  return { labels: s.labels ?? {}, annotations: s.annotations ?? {} };
}

function checkSchemaVersion(maps: MetadataMaps, what: string): void {
  const version = maps.annotations[DBAAS_ANNOTATIONS.schemaVersion];
  if (version === undefined) {
    throw new DbaasError('METADATA_INVALID', `${what} has no ${DBAAS_ANNOTATIONS.schemaVersion} annotation: it was not made by kubectl-dbaas`, {
      fix: 'Only snapshots created by kubectl-dbaas carry the metadata a restore needs.',
    });
  }
  if (version !== SNAPSHOT_METADATA_SCHEMA_VERSION) {
    throw new DbaasError(
      'METADATA_SCHEMA_UNSUPPORTED',
      `${what} has metadata schema version "${version}"; this kubectl-dbaas reads version ${SNAPSHOT_METADATA_SCHEMA_VERSION} only`,
      {
        fix:
          /^\d+$/.test(version) && Number(version) > Number(SNAPSHOT_METADATA_SCHEMA_VERSION)
            ? 'It was written by a newer kubectl-dbaas: upgrade kubectl-dbaas (or the @kubectl-dbaas/sdk package) to read it.'
            : `The ${DBAAS_ANNOTATIONS.schemaVersion} annotation was altered; it must be "${SNAPSHOT_METADATA_SCHEMA_VERSION}".`,
        details: { schemaVersion: version },
      },
    );
  }
}

/**
 * Reads the kubectl-dbaas metadata of a snapshot (an object with `metadata`, or the two maps).
 * Labels and annotations that are not ours are ignored.
 *
 * @throws DbaasError `METADATA_SCHEMA_UNSUPPORTED` for an unknown schema version (names it and
 *   says to upgrade), `METADATA_INVALID` when ours are missing or malformed (lists each field).
 * @example
 * ```ts
 * const meta = readSnapshotMetadata(volumeSnapshot);
 * if (meta.mode === 'online') console.log(formatLsn(meta.stopLsn!));
 * ```
 */
export function readSnapshotMetadata(
  source: Partial<MetadataMaps> | { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> } },
): SnapshotMetadata {
  const name = 'metadata' in source ? source.metadata?.name : undefined;
  const what = name ? `snapshot "${name}"` : 'the snapshot';
  const maps = mapsOf(source);
  checkSchemaVersion(maps, what);
  const result = snapshotMetadataSchema.safeDecode(maps as z.input<typeof snapshotMetadataSchema>);
  if (!result.success) {
    throw new DbaasError('METADATA_INVALID', `the kubectl-dbaas metadata of ${what} is invalid: ${issuesText(result.error)}`, {
      details: { issues: result.error.issues },
    });
  }
  return result.data;
}

/**
 * Writes the labels and annotations for a snapshot. Validates everything first (label value
 * lengths, LSN order, WAL file names, ...).
 *
 * @throws DbaasError `METADATA_INVALID`
 * @example
 * ```ts
 * const { labels, annotations } = writeSnapshotMetadata({ ...meta, cutAt: new Date() });
 * ```
 */
export function writeSnapshotMetadata(meta: SnapshotMetadata): MetadataMaps {
  const result = snapshotMetadataSchema.safeEncode(meta);
  if (!result.success) {
    throw new DbaasError('METADATA_INVALID', `cannot write snapshot metadata: ${issuesText(result.error)}`, { details: { issues: result.error.issues } });
  }
  return result.data as MetadataMaps;
}

/**
 * The engines' names, as messages and output print them.
 *
 * @example
 * ```ts
 * ENGINE_NAMES[meta.engine ?? 'postgres']; // 'MariaDB'
 * ```
 */
export const ENGINE_NAMES: Readonly<Record<'postgres' | 'mysql' | 'mariadb', string>> = { postgres: 'PostgreSQL', mysql: 'MySQL', mariadb: 'MariaDB' };

/**
 * Whether a backup set is a PostgreSQL `online` backup: its data snapshot needs `backup_label` and
 * the WAL to the stop LSN, which a restore puts together (restore-prep). A set whose engine is not
 * recorded is PostgreSQL's (the engine came later).
 *
 * @example
 * ```ts
 * isPostgresOnline({ mode: 'online', engine: 'postgres' }); // true
 * ```
 */
export function isPostgresOnline(meta: { mode?: ConsistencyMode | undefined; engine?: 'postgres' | 'mysql' | 'mariadb' | undefined }): boolean {
  return meta.mode === 'online' && (meta.engine === undefined || meta.engine === 'postgres');
}

/**
 * Whether a backup set of this mode and engine has a `-wal` snapshot: PostgreSQL's `online` backups
 * do (the WAL up to the stop LSN, taken after `pg_backup_stop`, and `backup_label`), unless the
 * instance keeps pg_wal on a volume of its own: then that volume's snapshot, taken after
 * `pg_backup_stop`, holds the WAL (`walVolume`). MySQL and MariaDB keep their redo and binary logs in
 * the data directory, so their `online` sets are one snapshot.
 *
 * @example
 * ```ts
 * hasWalSnapshot({ mode: 'online', engine: 'postgres' }); // true
 * hasWalSnapshot({ mode: 'online', engine: 'postgres', walVolume: 'wal' }); // false
 * hasWalSnapshot({ mode: 'online', engine: 'mariadb' }); // false
 * ```
 */
export function hasWalSnapshot(meta: {
  mode?: ConsistencyMode | undefined;
  engine?: 'postgres' | 'mysql' | 'mariadb' | undefined;
  walVolume?: string | undefined;
}): boolean {
  return isPostgresOnline(meta) && meta.walVolume === undefined;
}

/**
 * Whether an object carries kubectl-dbaas snapshot labels (managed-by and backup-type), without
 * validating the rest.
 *
 * @example
 * ```ts
 * const ours = snapshots.filter(isManagedSnapshot);
 * ```
 */
export function isManagedSnapshot(o: { metadata?: { labels?: Record<string, string> } }): boolean {
  const l = o.metadata?.labels ?? {};
  return l[DBAAS_LABELS.managedBy] === MANAGED_BY && l[DBAAS_LABELS.backupType] === 'volumesnapshot';
}

/**
 * Label selector for kubectl-dbaas snapshots, optionally of one backup set, role or source PVC.
 *
 * @example
 * ```ts
 * managedSnapshotSelector({ backupSet: 'nightly' });
 * // 'app.kubernetes.io/managed-by=kubectl-dbaas,dbaas.io/backup-type=volumesnapshot,dbaas.io/backup-set=nightly'
 * ```
 */
export function managedSnapshotSelector(filter: { backupSet?: string; role?: SnapshotRole; sourcePvc?: string } = {}): string {
  const parts = [`${DBAAS_LABELS.managedBy}=${MANAGED_BY}`, `${DBAAS_LABELS.backupType}=volumesnapshot`];
  if (filter.backupSet !== undefined) parts.push(`${DBAAS_LABELS.backupSet}=${assertLabelValue(filter.backupSet, DBAAS_LABELS.backupSet)}`);
  if (filter.role !== undefined) parts.push(`${DBAAS_LABELS.role}=${filter.role}`);
  if (filter.sourcePvc !== undefined) parts.push(`${DBAAS_LABELS.backupSource}=${assertLabelValue(filter.sourcePvc, DBAAS_LABELS.backupSource)}`);
  return parts.join(',');
}

// ---- restored PVCs ---------------------------------------------------------------------------

const restoreWire = z.object({
  labels: z.object({
    [DBAAS_LABELS.managedBy]: z.literal(MANAGED_BY),
    [DBAAS_LABELS.restoredFrom]: nonEmptyLabelValue,
    [DBAAS_LABELS.restoreType]: z.enum(['snapshot', 'cross-namespace']),
  }),
  annotations: z.object({
    [DBAAS_ANNOTATIONS.schemaVersion]: z.literal(SNAPSHOT_METADATA_SCHEMA_VERSION),
    [DBAAS_ANNOTATIONS.restoredFromNamespace]: z.string().optional(),
  }),
});
const restoreShape = z.object({
  schemaVersion: z.literal(SNAPSHOT_METADATA_SCHEMA_VERSION),
  restoredFrom: z.string(),
  restoreType: z.enum(['snapshot', 'cross-namespace']),
  restoredFromNamespace: z.string().optional(),
});
type RestoreWire = z.output<typeof restoreWire>;

/**
 * The metadata schema of a PVC kubectl-dbaas restored: labels `dbaas.io/restored-from` (the
 * snapshot name), `dbaas.io/restore-type` (`snapshot` or `cross-namespace`), managed-by; the
 * annotation `dbaas.io/restored-from-namespace` for a cross-namespace restore.
 *
 * @example
 * ```ts
 * const wire = restoreMetadataSchema.encode({ schemaVersion: '1', restoredFrom: 'nightly', restoreType: 'snapshot' });
 * ```
 */
export const restoreMetadataSchema = z.codec(restoreWire, restoreShape, {
  decode: (w) => ({
    schemaVersion: w.annotations[DBAAS_ANNOTATIONS.schemaVersion],
    restoredFrom: w.labels[DBAAS_LABELS.restoredFrom],
    restoreType: w.labels[DBAAS_LABELS.restoreType],
    ...(w.annotations[DBAAS_ANNOTATIONS.restoredFromNamespace] !== undefined
      ? { restoredFromNamespace: w.annotations[DBAAS_ANNOTATIONS.restoredFromNamespace] }
      : {}),
  }),
  encode: (m): RestoreWire => ({
    labels: {
      [DBAAS_LABELS.managedBy]: MANAGED_BY,
      [DBAAS_LABELS.restoredFrom]: m.restoredFrom,
      [DBAAS_LABELS.restoreType]: m.restoreType,
    },
    annotations: {
      [DBAAS_ANNOTATIONS.schemaVersion]: m.schemaVersion,
      ...(m.restoredFromNamespace !== undefined ? { [DBAAS_ANNOTATIONS.restoredFromNamespace]: m.restoredFromNamespace } : {}),
    },
  }),
});

/**
 * What a restored PVC records about its origin.
 *
 * @example
 * ```ts
 * const m: RestoreMetadata = { schemaVersion: '1', restoredFrom: 'nightly', restoreType: 'cross-namespace', restoredFromNamespace: 'prod' };
 * ```
 */
export type RestoreMetadata = z.output<typeof restoreMetadataSchema>;

/**
 * Writes the labels and annotations of a restored PVC.
 *
 * @throws DbaasError `METADATA_INVALID`
 * @example
 * ```ts
 * writeRestoreMetadata({ schemaVersion: '1', restoredFrom: 'nightly', restoreType: 'snapshot' });
 * ```
 */
export function writeRestoreMetadata(meta: RestoreMetadata): MetadataMaps {
  const result = restoreMetadataSchema.safeEncode(meta);
  if (!result.success) throw new DbaasError('METADATA_INVALID', `cannot write restore metadata: ${issuesText(result.error)}`);
  return result.data as MetadataMaps;
}

/**
 * Reads the restore metadata of a PVC.
 *
 * @throws DbaasError `METADATA_SCHEMA_UNSUPPORTED`, `METADATA_INVALID`
 * @example
 * ```ts
 * const { restoredFrom } = readRestoreMetadata(pvc);
 * ```
 */
export function readRestoreMetadata(
  source: Partial<MetadataMaps> | { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> } },
): RestoreMetadata {
  const name = 'metadata' in source ? source.metadata?.name : undefined;
  const what = name ? `PVC "${name}"` : 'the PVC';
  const maps = mapsOf(source);
  checkSchemaVersion(maps, what);
  const result = restoreMetadataSchema.safeDecode(maps as z.input<typeof restoreMetadataSchema>);
  if (!result.success) throw new DbaasError('METADATA_INVALID', `the kubectl-dbaas restore metadata of ${what} is invalid: ${issuesText(result.error)}`);
  return result.data;
}
