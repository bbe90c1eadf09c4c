// Real MariaDB servers for tests (Debian's mariadb-server as plain processes).
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
} from './server.js';
export type { MariadbBinaries, MariadbSettingValue, StartMariadbOptions } from './server.js';
export { localMariadbFencing, runMariadbOnVolume } from './volume.js';
export type { LocalMariadbFencing, RunMariadbOnVolumeOptions } from './volume.js';
export { MysqlWriteLoad, copyTrial, seedMysql } from './copy-experiment.js';
export type { CopyMode, CopyTrial } from './copy-experiment.js';
