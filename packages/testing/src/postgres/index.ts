// Real PostgreSQL servers for tests (docs/architecture.md, "Test tiers": postgres).
export { availablePostgresMajors, postgresBinaries, SUPPORTED_POSTGRES_MAJORS, POSTGRES_BINARY_CACHE_ENV } from './binaries.js';
export type { PostgresBinaries } from './binaries.js';
export { postgresRunAs, accessProblem, POSTGRES_USER_ENV } from './user.js';
export type { PostgresRunAs } from './user.js';
export { PostgresServer, PostgresStartError, startPostgres, startPostgresOnDirectory, freePort } from './server.js';
export type { StartPostgresOptions, PostgresStopMode, PostgresSettingValue } from './server.js';
export { copyDataDirectory, makeTemporaryDirectory } from './copy.js';
export type { CopyDataDirectoryOptions, CopyDataDirectoryResult } from './copy.js';
export { stopAllPostgres, cleanupPostgresAfterAll, registeredResourceCount } from './registry.js';
export { processAlive, descendantPids } from './processes.js';
