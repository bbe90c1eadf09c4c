export {};

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
