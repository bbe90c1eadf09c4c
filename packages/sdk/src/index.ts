// Explicit named exports only: nothing deep, nothing by wildcard.

// The four front doors: what a program imports first (docs/sdk.md opens with them). Everything
// below them is their building blocks, exported for finer use.
export { WalInspector } from './wal/inspector.js';
export type { WalInspectorOptions, WalStatus } from './wal/inspector.js';
export { ManifestBuilder } from './manifests/manifest-builder.js';
export type { ManifestBuilderOptions, ManifestCrossNamespaceInput } from './manifests/manifest-builder.js';
export { SnapshotClient } from './snapshot/snapshot-client.js';
export type { BackupOptions, BackupResult } from './snapshot/backup.js';
export { RestoreClient } from './restore/restore-client.js';
export type { CnpgRestoreOptions, CnpgRestorePlan, CnpgRestoreResult } from './restore/cnpg.js';
export {
  planCnpgRestore,
  executeCnpgRestore,
  buildCnpgRecoveryCluster,
  buildStagedSnapshot,
  CNPG_RESTORE_STAGING_SUFFIX,
  CNPG_RESTORE_FOR_LABEL,
  CNPG_PVC_ROLE_LABEL,
} from './restore/cnpg.js';
export { OPERATOR_SETTINGS_OFF, PLAIN_SERVER_SETTINGS } from './engines/postgres/operator-settings.js';
export { CNPG_CLUSTERS, CNPG_HEALTHY_PHASE, readCnpgClusterObject, findCnpgClusterObject, cnpgClustersPath } from './kube/cnpg-cluster.js';
export type { CnpgClusterObject } from './kube/cnpg-cluster.js';
export type { RestoreOptions, RestoreResult } from './restore/restore.js';
export type { VerifyOptions, VerifyResult, VerifyPlan, VerifyFailure, VerifyExecution } from './restore/verify.js';

// One error type for all of it
export { DbaasError, toDbaasError, isDbaasError, errorKind } from './errors.js';
export type { DbaasErrorCode, DbaasErrorKind } from './errors.js';

// WAL: LSNs and segment names
export {
  DEFAULT_WAL_SEGMENT_SIZE,
  parseLsn,
  formatLsn,
  compareLsn,
  lsnDistance,
  assertWalSegmentSize,
  walSegmentNumber,
  walSegmentStart,
  walFileNameForSegment,
  walFileName,
  walFileNameForEnd,
  maxAlignLsn,
  parseWalFileName,
  isWalFileName,
} from './wal/lsn.js';
export type { Lsn } from './wal/lsn.js';

// WAL: WalInspector's offline building blocks (pg_control, backup_label, timeline history, WAL segments, data directories)
export { crc32c, crc32cCombine, crc32cPortable, crc32cImplementation } from './wal/crc32c.js';
export {
  readControlFile,
  decodeCheckPoint,
  checkPointHasWalLevel,
  SUPPORTED_CONTROL_FILE_VERSIONS,
  CONTROL_FILE_SIZE,
  CHECKPOINT_DATA_SIZE,
} from './wal/control-file.js';
export type { ControlFile, CheckPointData, DatabaseClusterState, WalLevel } from './wal/control-file.js';
export { parseBackupLabel, formatBackupLabel, parseTablespaceMap, formatTablespaceMap } from './wal/backup-label.js';
export type { BackupLabel, TablespaceMapEntry } from './wal/backup-label.js';
export { parseTimelineHistory, formatTimelineHistory, timelineOfHistoryFile } from './wal/timeline-history.js';
export type { TimelineHistoryEntry } from './wal/timeline-history.js';
export {
  scanWal,
  summarizeWalSegment,
  summarizeWalSegments,
  joinWalSegmentSummaries,
  WAL_PAGE_SIZE,
  WAL_PAGE_MAGIC_BY_VERSION,
} from './wal/wal-scanner.js';
export type {
  WalScanOptions,
  WalScanReport,
  WalRecordAfterEnd,
  WalSegmentInput,
  WalSegmentSummary,
  WalEndReason,
  WalCheckpointRecord,
  WalEvent,
} from './wal/wal-scanner.js';
export { inspectDataDirectory, walSegmentsFromDirectory } from './wal/data-directory.js';
export type {
  DataDirectoryInspection,
  DataDirectoryVerdict,
  InspectDataDirectoryOptions,
  ControlFileJson,
  BackupLabelJson,
} from './wal/data-directory.js';
export { readTarEntries, readTarFile, readTarEntry, drainTarEntry } from './wal/tar-source.js';
export type { TarEntry } from './wal/tar-source.js';

// WAL: WalInspector's live building blocks: inspection over SQL and the held online-backup session (wal/live.ts)
export { connectLive, LiveInspector, OnlineBackup } from './wal/live.js';
export type {
  PostgresConnectionConfig,
  ServerVersion,
  WalPositions,
  ControlCheckpoint,
  ControlSystem,
  ControlRecovery,
  ArchiverStats,
  OnlineBackupOptions,
  OnlineBackupStarted,
  OnlineBackupStopped,
  OnlineBackupState,
} from './wal/live.js';

// Kubernetes: clients, error mapping, watch-until, snapshot.storage.k8s.io/v1 types (kube/)
export { KubeClients, SnapshotResource } from './kube/clients.js';
export type { KubeClientsOptions, SnapshotListOptions } from './kube/clients.js';
export type { KubeConfigOverrides } from './kube/overrides.js';
export { toKubeError, parseStatus, kubeErrorCode } from './kube/errors.js';
export type { KubeOperation, KubeStatus } from './kube/errors.js';
export { watchUntil, operationOfPath, isGone } from './kube/watch-until.js';
export type { WatchUntilOptions, WatchUntilResult, WatchUntilEvent, WatchUntilStats, KubeObjectLike } from './kube/watch-until.js';
export { forwardPodPort, forwardNote } from './kube/port-forward.js';
export type { PodPortForward, PodPortTarget } from './kube/port-forward.js';
export {
  SNAPSHOT_GROUP,
  SNAPSHOT_VERSION,
  SNAPSHOT_API_VERSION,
  DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
  GROUP_SNAPSHOT_GROUP,
  GROUP_SNAPSHOT_VERSION,
  GROUP_SNAPSHOT_API_VERSION,
  DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION,
} from './kube/snapshot-types.js';
export type {
  VolumeSnapshot,
  VolumeSnapshotContent,
  VolumeSnapshotClass,
  VolumeSnapshotError,
  VolumeGroupSnapshot,
  VolumeGroupSnapshotClass,
  VolumeGroupSnapshotContent,
  SnapshotObjectList,
  SnapshotDeletionPolicy,
} from './kube/snapshot-types.js';

// Manifests: ManifestBuilder's building blocks, metadata schema, names, quantities, driver atomicity (manifests/)
export {
  buildVolumeSnapshot,
  buildPvcFromSnapshot,
  buildPvcClone,
  buildCrossNamespaceSnapshot,
  buildRestorePrepJob,
  buildRelinkJob,
  postgresqlConfLines,
  backupSetNames,
  volumeSnapshotName,
  walFilesForBackup,
  RESTORE_PREP_SCRIPT,
  WAL_SNAPSHOT_SUFFIX,
  DEFAULT_RESOURCES,
  containerResources,
  assertNodeSelector,
} from './manifests/builders.js';
export type {
  ContainerResources,
  ExtraMetadata,
  VolumeSnapshotInput,
  PvcFromSnapshotInput,
  PvcCloneInput,
  CrossNamespaceSnapshotInput,
  RestorePrepJobInput,
  RelinkJobInput,
} from './manifests/builders.js';
export {
  snapshotMetadataSchema,
  restoreMetadataSchema,
  readSnapshotMetadata,
  hasWalSnapshot,
  isPostgresOnline,
  ENGINE_NAMES,
  writeSnapshotMetadata,
  readRestoreMetadata,
  writeRestoreMetadata,
  isManagedSnapshot,
  managedSnapshotSelector,
  DBAAS_LABELS,
  DBAAS_ANNOTATIONS,
  MANAGED_BY,
  SNAPSHOT_METADATA_SCHEMA_VERSION,
  CONSISTENCY_MODES,
  SNAPSHOT_ROLES,
} from './manifests/metadata.js';
export type { SnapshotMetadata, RestoreMetadata, MetadataMaps, ConsistencyMode, SnapshotRole } from './manifests/metadata.js';
export {
  assertDnsLabel,
  assertDnsSubdomain,
  assertLabelValue,
  assertQualifiedName,
  derivedName,
  DNS1123_LABEL_MAX,
  DNS1123_SUBDOMAIN_MAX,
} from './manifests/names.js';
export { parseQuantity, compareQuantities, quantityToBytes, bytesToQuantity } from './manifests/quantity.js';
export type { Quantity } from './manifests/quantity.js';
export {
  snapshotAtomicity,
  chooseConsistencyMode,
  KNOWN_DRIVER_ATOMICITY,
  ATOMIC_SNAPSHOTS_ANNOTATION,
} from './manifests/atomicity.js';
export type { SnapshotAtomicity } from './manifests/atomicity.js';

// Snapshots: SnapshotClient list / describe / delete / prune, backup sets, prune planning (snapshot/)
export { summarizeContent } from './snapshot/snapshot-client.js';
export type {
  SnapshotListSetsOptions,
  BackupSetList,
  SnapshotContentSummary,
  DescribedSnapshot,
  BackupSetDetails,
  DeleteBackupSetOptions,
  DeleteBackupSetResult,
  PruneOptions,
  PruneResult,
  DryRunObject,
} from './snapshot/snapshot-client.js';
export { snapshotState, summarizeSnapshot, groupBackupSets, compareBackupSets, sortBackupSets, backupSetRestorability } from './snapshot/backup-sets.js';
export type { SnapshotState, SnapshotSummary, BackupSet, Restorability, RestorabilityVerdict } from './snapshot/backup-sets.js';
export { planPrune, parseDuration, dayBucket, weekBucket, monthBucket, describePolicy } from './snapshot/prune-plan.js';
export type { PrunePolicy, PruneDecision, PrunePlan } from './snapshot/prune-plan.js';

// Backups: runBackup in the four consistency modes, target discovery, engine hooks and fencing (snapshot/backup.ts, engines/)
export { runBackup, defaultBackupName } from './snapshot/backup.js';
export { resolveDatabaseConnection, resolveMysqlConnection, isSecretConnection, readSecretCredentials, decodeSecretData } from './engines/postgres/secret.js';
export type { DatabaseConnection, MysqlDatabaseConnection, PostgresSecretConnection, PostgresSecretRef } from './engines/postgres/secret.js';
export type { BackupProgress, BackupPhase, SnapshotTimings, SnapshotWatchStats } from './snapshot/backup.js';
export { discoverBackupTarget, impliedFencing, chooseSnapshotClass, dataPvcOfPod, podsMountingPvc, DATA_VOLUME_ANNOTATION } from './snapshot/discovery.js';
export { planBackup, cnpgInstanceTarget } from './snapshot/backup-plan.js';
export type { BackupPlan, BackupPlanOptions, CnpgInstance, SetVolume } from './snapshot/backup-plan.js';
export { GROUP_SNAPSHOT_PVC_LABEL, groupSnapshotClassOf, buildGroupSnapshot } from './snapshot/group-snapshot.js';
export { isPodConnection } from './snapshot/backup-session.js';
export type { PodDatabaseConnection, BackupDatabase, BackupSessionPlan } from './snapshot/backup-session.js';
export { podDatabaseCredentials } from './engines/pod-credentials.js';
export { dataLayoutOfPod, databaseContainer, databaseVolumesBeyond, HOLDS_LABEL } from './engines/pod-layout.js';
export type { DataLayout, DatabaseVolume } from './engines/pod-layout.js';
export type { PodCredentials } from './engines/pod-credentials.js';
export { sessionMismatch } from './engines/session-identity.js';
export type { BackupTarget, DiscoveredTarget } from './snapshot/discovery.js';
export type { EngineHooks, EngineMetadata, EngineOnlineBackup, FencingStrategy, FenceContext, SessionServer } from './engines/engine.js';
export { postgresEngine } from './engines/postgres/engine.js';
export {
  statefulSetFencing,
  cnpgFencing,
  cnpgFencedInstances,
  liftFence,
  fenceHolder,
  parseFenceLease,
  FENCED_REPLICAS_ANNOTATION,
  CNPG_FENCED_INSTANCES_ANNOTATION,
  FENCE_LEASE_ANNOTATION,
  FENCED_WHEN_SCALED_ANNOTATION,
} from './engines/fencing.js';
export type { FenceLease, LiftFenceOptions, LiftFenceResult } from './engines/fencing.js';

// Restores and verification: RestoreClient, the restore-prep step, scratch runtimes (restore/)
export { runRestore, planRestore, executeRestore, SELECTED_NODE_ANNOTATION, RESTORE_WAL_PVC_SUFFIX, RESTORE_SOURCE_SUFFIX } from './restore/restore.js';
export type {
  RestorePhase,
  RestoreProgress,
  RestorePrepOptions,
  RestorePlan,
  RestoreSource,
  RestoredVolume,
  RestoreExecution,
  RestoreObjectRef,
  RestoreReplacing,
} from './restore/restore.js';
export { jobRestorePrepExecutor } from './restore/restore-prep.js';
export type { RestorePrepExecutor, RestorePrepRequest } from './restore/restore-prep.js';
export { runVerify, planVerify, executeVerify, describeVerifyFailure, findDataSubPath, SCRATCH_SERVER_SETTINGS } from './restore/verify.js';
export type { VerifyRuntime, VerifyCheck, VerifyPhase, VerifyProgress, ScratchPostgres, VolumeSetLayout } from './restore/verify.js';

// MySQL and MariaDB: engine hooks on mysql2, engine detection, verify on a scratch server (engines/mysql/)
export { mysqlEngine, parseMysqlVersion, onlineLockMethod, binlogStatusStatement } from './engines/mysql/engine.js';
export type { MysqlServerVersion, MysqlEngineOptions } from './engines/mysql/engine.js';
export { openMysqlSession } from './engines/mysql/sql.js';
export type { MysqlConnectionConfig, MysqlSession, MysqlRow } from './engines/mysql/sql.js';
export { detectEngine, imageRepositoryName, ENGINE_LABEL } from './engines/mysql/detect.js';
export { detectTargetEngine } from './snapshot/detect-target.js';
export type { TargetEngineDetection } from './snapshot/detect-target.js';
export type { EngineDetection, EngineDetectionInput } from './engines/mysql/detect.js';
export { verifyMysqlRestore, checkMysqlTables, scanMysqlErrorLog } from './engines/mysql/verify.js';
export type { VerifyMysqlRestoreOptions, MysqlVerifyReport, MysqlTableCheck } from './engines/mysql/verify.js';
export { ENGINE_MODES } from './manifests/atomicity.js';
export { podVerifyRuntime, buildScratchPod } from './restore/pod-runtime.js';
export { stuckReason, SCHEDULING_GRACE_MS, CAPACITY_GRACE_MS, MULTI_ATTACH_GRACE_MS } from './kube/pod-diagnosis.js';
export type { StuckPod } from './kube/pod-diagnosis.js';
export type { PodVerifyRuntimeOptions, ScratchPodInput } from './restore/pod-runtime.js';
export {
  planRestoreForStatefulSet,
  planRestoreInPlace,
  executeRestoreInPlace,
  restoreInPlace,
  PREVIOUS_PVC_SUFFIX,
  RECLAIM_POLICY_BEFORE_ANNOTATION,
} from './restore/workload.js';
export type {
  StatefulSetRestoreOptions,
  StatefulSetRestorePlan,
  InPlaceRestoreOptions,
  InPlaceRestorePlan,
  InPlaceRestoreResult,
  InPlaceRestoreProgress,
  InPlaceRestoreStep,
  InPlaceRestoreExecution,
} from './restore/workload.js';
