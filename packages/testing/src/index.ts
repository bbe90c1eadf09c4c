// Real PostgreSQL servers for tests (postgres/)
export {
  availablePostgresMajors,
  postgresBinaries,
  SUPPORTED_POSTGRES_MAJORS,
  POSTGRES_BINARY_CACHE_ENV,
  postgresRunAs,
  accessProblem,
  POSTGRES_USER_ENV,
  PostgresServer,
  PostgresStartError,
  startPostgres,
  startPostgresOnDirectory,
  freePort,
  copyDataDirectory,
  makeTemporaryDirectory,
  stopAllPostgres,
  cleanupPostgresAfterAll,
  registeredResourceCount,
  processAlive,
  descendantPids,
} from './postgres/index.js';
export type {
  PostgresBinaries,
  PostgresRunAs,
  StartPostgresOptions,
  PostgresStopMode,
  PostgresSettingValue,
  CopyDataDirectoryOptions,
  CopyDataDirectoryResult,
} from './postgres/index.js';

// Local Kubernetes cluster: control plane + snapshot controller + CSI hostpath + a node (local-cluster/)
export {
  LocalCluster,
  reapStaleClusters,
  COMPONENTS as LOCAL_CLUSTER_COMPONENTS,
  STORAGE_CLASS,
  STORAGE_CLASS_WFFC,
  SNAPSHOT_CLASS,
  GROUP_SNAPSHOT_CLASS,
  HOSTPATH_DRIVER,
  BTRFS_DRIVER,
  BTRFS_STORAGE_CLASS,
  BTRFS_SNAPSHOT_CLASS,
  LOCAL_DRIVER_CLASSES,
  type LocalDriver,
  LOCAL_NODE_NAME,
} from './local-cluster/cluster.js';
export type {
  LocalClusterOptions,
  ComponentName,
  ComponentStatus,
  ClusterRecord,
} from './local-cluster/cluster.js';
export {
  BUILT_TOOLS,
  buildBinaries,
  resolveBinaries,
  loadVersions,
  CSI_DRIVER_TOOLS,
  LOCAL_SOURCE_TOOLS,
  toolCacheKey,
  cachedToolPath,
  goVersion,
  snapshotCrdDir,
} from './local-cluster/binaries.js';
export type { BuiltTool, CsiDriverTool, ClusterTool, VersionsFile, ResolvedBinaries, BuildOptions } from './local-cluster/binaries.js';
export { renderKubeconfig } from './local-cluster/kubeconfig.js';
export type { KubeconfigSpec } from './local-cluster/kubeconfig.js';
export { clusterFromEnv, SHARED_CLUSTER_ENV } from './local-cluster/shared.js';
export type { SharedClusterInfo } from './local-cluster/shared.js';
export { runPostgresOnVolume, volumeDirectoryOf, createBoundPvc, livePvcNames, pvcFromSnapshot } from './local-cluster/workloads.js';
export type { VolumeHost, RunOnVolumeOptions } from './local-cluster/workloads.js';

// minikube with the volumesnapshots and csi-hostpath-driver addons (minikube/)
export { MinikubeCluster, minikubeAvailability, MINIKUBE_ADDONS } from './minikube/index.js';
export type { MinikubeOptions, MinikubeAvailability } from './minikube/index.js';

// Assertions shared by tests of every package
export { dbaasRejection, pollUntil, eventually } from './assertions.js';

// Real MariaDB servers (Debian's mariadb-server) for the MySQL/MariaDB engine tests (mysql/)
export {
  MariadbServer,
  MariadbStartError,
  MARIADB_BIN_DIR_ENV,
  cleanupMariadbAfterAll,
  isMariadbDataDirectory,
  mariadbBinaries,
  mariadbUnavailable,
  startMariadb,
  startMariadbOnDirectory,
  localMariadbFencing,
  runMariadbOnVolume,
  MysqlWriteLoad,
  copyTrial,
  seedMysql,
} from './mysql/index.js';
export type {
  MariadbBinaries,
  MariadbSettingValue,
  StartMariadbOptions,
  LocalMariadbFencing,
  RunMariadbOnVolumeOptions,
  CopyMode,
  CopyTrial,
} from './mysql/index.js';
export { letPostgresUserReach } from './local-cluster/workloads.js';
export { WriteLoad } from './postgres/write-load.js';
export { provisionBackupSnapshot, writeContentReady, UNSERVED_DRIVER } from './local-cluster/provisioned-backup.js';
export type { ProvisionedBackupSpec } from './local-cluster/provisioned-backup.js';
// CloudNativePG on the local cluster: the release manifest with local images, Clusters on its storage
export {
  installCnpgOperator,
  localizeCnpgManifest,
  readCnpgManifest,
  cnpgClusterManifest,
  createCnpgCluster,
  readCnpgCluster,
  waitCnpgClusterHealthy,
  cnpgSuperuser,
  CNPG_NAMESPACE,
  CNPG_DEPLOYMENT,
  CNPG_HEALTHY_PHASE,
} from './local-cluster/cnpg.js';
export type { CnpgClusterOptions, CnpgClusterStatus, CnpgInstallResult } from './local-cluster/cnpg.js';

// Container images of the test node (containerd + kubelet): pause, PostgreSQL 14-18, MariaDB,
// CloudNativePG's operator and operand (node/)
export {
  TEST_IMAGES,
  TEST_IMAGE_NAMES,
  TEST_IMAGE_REGISTRY,
  PAUSE_IMAGE,
  PAUSE_IMAGE_USER,
  MARIADB_IMAGE,
  MARIADB_IMAGE_UID,
  MARIADB_IMAGE_GID,
  POSTGRES_IMAGE_MAJORS,
  POSTGRES_IMAGE_UID,
  IMAGE_BUILDER_VERSION,
  CNPG_IMAGE_NAMES,
  CNPG_VERSION,
  CNPG_OPERATOR_IMAGE,
  CNPG_OPERATOR_USER,
  CNPG_POSTGRES_IMAGE,
  CNPG_POSTGRES_UID,
  CNPG_MANAGER_FILE,
  cnpgManagerBinary,
  cnpgManagerUnavailable,
  parseCnpgManagerVersion,
  buildTestImage,
  buildTestImages,
  importTestImages,
  testImageRef,
  testImageArchivePath,
  postgresImagePgdata,
} from './node/images.js';
export type { TestImageName, PostgresImageMajor, BuiltTestImage, BuildTestImageOptions } from './node/images.js';
export { skipWhen, skipReasonOf } from './skip-reason.js';
export { hostpathSkipReason, cnpgSkipReason } from './skip-hostpath.js';

// Databases in pods of the local cluster's node: StatefulSets on csi-hostpath-sc, reached through port-forward (local-cluster/pods.ts)
export {
  deployPostgres,
  deployMariadb,
  forwardPort,
  describePod,
  postgresStatefulSet,
  PostgresPod,
  MariadbPod,
  POSTGRES_WAL_MOUNT,
  POSTGRES_WAL_DIR,
  POSTGRES_TABLESPACE_MOUNT,
  POSTGRES_TABLESPACE_DIR,
} from './local-cluster/pods.js';
export type { DeployDatabaseOptions, DeployPostgresOptions, PodPortForward } from './local-cluster/pods.js';
export type { WriteTarget } from './postgres/write-load.js';
