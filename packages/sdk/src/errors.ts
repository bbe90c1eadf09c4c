/**
 * The one error type of the SDK. Every failure that a caller may want to handle carries a
 * string-literal {@link DbaasErrorCode}, a message that says what went wrong, and where possible a
 * `fix` that says what to do about it.
 *
 * @example
 * ```ts
 * try {
 *   readControlFile(bytes);
 * } catch (error) {
 *   const dbaas = toDbaasError(error);
 *   if (dbaas.code === 'CONTROL_FILE_CRC_MISMATCH') console.error(dbaas.fix);
 * }
 * ```
 */
export class DbaasError extends Error {
  override readonly name = 'DbaasError';
  readonly code: DbaasErrorCode;
  readonly fix: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /**
   * The SDK option the error is about, by its name in the options object (`'fence'`, `'mode'`,
   * `'pvcName'`), so a front end can name its own flag or field; the message and fix never name one.
   */
  readonly option: string | undefined;

  constructor(code: DbaasErrorCode, message: string, options: { fix?: string; cause?: unknown; details?: Record<string, unknown>; option?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fix = options.fix;
    this.details = options.details;
    this.option = options.option;
  }

  /** What kind of failure this is: see {@link errorKind}. */
  get kind(): DbaasErrorKind {
    return errorKind(this.code);
  }
}

/**
 * The five kinds every {@link DbaasErrorCode} falls in, for callers that branch on the kind rather
 * than the code (the CLI's exit codes do):
 * - `usage`: the caller's input is wrong in itself (a bad option value, options that do not go
 *   together); found before anything is read from the cluster or a database. Retrying the same
 *   call cannot succeed.
 * - `not-found`: a named or discovered object does not exist (a namespace, PVC, backup, the
 *   workload that mounts a PVC).
 * - `refused`: the objects exist but their state does not allow the operation (a mode the driver
 *   cannot do safely, a target that already exists, a backup that is not ready).
 * - `interrupted`: the caller aborted it.
 * - `failed`: anything else went wrong on the way (API server, database, driver, timeout, a copy
 *   found not restorable).
 *
 * @example
 * ```ts
 * errorKind('INVALID_ARGUMENT'); // 'usage'
 * errorKind('TARGET_NOT_FOUND'); // 'not-found'
 * ```
 */
export type DbaasErrorKind = 'usage' | 'not-found' | 'refused' | 'interrupted' | 'failed';

const KIND_OF_CODE: Partial<Record<DbaasErrorCode, DbaasErrorKind>> = {
  INVALID_ARGUMENT: 'usage',
  INVALID_LSN: 'usage',
  INVALID_WAL_FILE_NAME: 'usage',
  INVALID_NAME: 'usage',
  INVALID_QUANTITY: 'usage',
  KUBE_CONFIG_INVALID: 'usage',
  TARGET_NOT_FOUND: 'not-found',
  KUBE_NOT_FOUND: 'not-found',
  TARGET_UNSUPPORTED: 'refused',
  MODE_UNSAFE: 'refused',
  BACKUP_NOT_READY: 'refused',
  RESTORE_TARGET_EXISTS: 'refused',
  RESTORE_SIZE_TOO_SMALL: 'refused',
  STORAGE_CLASS_MISMATCH: 'refused',
  SNAPSHOT_NOT_MANAGED: 'refused',
  PG_UNSUPPORTED_VERSION: 'refused',
  KUBE_FORBIDDEN: 'refused',
  KUBE_UNAUTHORIZED: 'refused',
  KUBE_CONFLICT: 'refused',
  KUBE_INVALID: 'refused',
  BACKUP_ABORTED: 'interrupted',
  KUBE_ABORTED: 'interrupted',
};

/**
 * The {@link DbaasErrorKind} of a code.
 *
 * @example
 * ```ts
 * if (errorKind(error.code) === 'usage') printUsage();
 * ```
 */
export function errorKind(code: DbaasErrorCode): DbaasErrorKind {
  return KIND_OF_CODE[code] ?? 'failed';
}

/**
 * Every code a {@link DbaasError} can carry. Grouped by the part of the SDK that raises them.
 *
 * @example
 * ```ts
 * const retryable: DbaasErrorCode[] = ['KUBE_TIMEOUT'];
 * ```
 */
export type DbaasErrorCode =
  // input: only for the caller's own input, wrong in itself (kind `usage`); a discovered object
  // that is missing is TARGET_NOT_FOUND, one whose state forbids the operation TARGET_UNSUPPORTED
  | 'INVALID_ARGUMENT'
  | 'INVALID_LSN'
  | 'INVALID_WAL_FILE_NAME'
  // pg_control
  | 'CONTROL_FILE_TRUNCATED'
  | 'CONTROL_FILE_FOREIGN_ENDIAN'
  | 'CONTROL_FILE_UNSUPPORTED_VERSION'
  | 'CONTROL_FILE_CRC_MISMATCH'
  // backup_label, tablespace_map, timeline history
  | 'BACKUP_LABEL_INVALID'
  | 'TIMELINE_HISTORY_INVALID'
  // WAL
  | 'WAL_INVALID'
  // data directory / snapshot files
  | 'DATA_DIRECTORY_UNREADABLE'
  | 'SNAPSHOT_ARCHIVE_INVALID'
  // live server
  | 'PG_CONNECTION_FAILED'
  | 'PG_QUERY_FAILED'
  | 'PG_UNSUPPORTED_VERSION'
  | 'MYSQL_CONNECTION_FAILED'
  | 'MYSQL_QUERY_FAILED'
  | 'BACKUP_ABORTED'
  | 'BACKUP_NOT_RUNNING'
  // Kubernetes
  | 'KUBE_FORBIDDEN'
  | 'KUBE_NOT_FOUND'
  | 'KUBE_CONFLICT'
  | 'KUBE_TIMEOUT'
  | 'KUBE_API_ERROR'
  | 'KUBE_CONFIG_INVALID'
  | 'KUBE_UNAUTHORIZED'
  | 'KUBE_UNREACHABLE'
  | 'KUBE_INVALID'
  | 'KUBE_ABORTED'
  | 'POD_CANNOT_START'
  // manifests and snapshot metadata
  | 'INVALID_NAME'
  | 'INVALID_QUANTITY'
  | 'RESTORE_SIZE_TOO_SMALL'
  | 'STORAGE_CLASS_MISMATCH'
  | 'METADATA_INVALID'
  | 'METADATA_SCHEMA_UNSUPPORTED'
  // snapshot sets (list / describe / delete / prune)
  | 'SNAPSHOT_NOT_MANAGED'
  // targets: the workload, PVC or server a backup or restore is about
  | 'TARGET_NOT_FOUND'
  | 'TARGET_UNSUPPORTED'
  // consistency modes
  | 'MODE_UNSAFE'
  // restore and verify
  | 'BACKUP_NOT_READY'
  | 'RESTORE_TARGET_EXISTS'
  | 'RESTORE_PREP_FAILED'
  | 'RESTORE_FAILED'
  | 'INTERNAL';

/**
 * Normalises anything thrown into a {@link DbaasError}, keeping the original as `cause`.
 *
 * @example
 * ```ts
 * const error = toDbaasError(new Error('boom')); // code 'INTERNAL'
 * ```
 */
export function toDbaasError(thrown: unknown): DbaasError {
  if (thrown instanceof DbaasError) return thrown;
  if (thrown instanceof Error) return new DbaasError('INTERNAL', thrown.message, { cause: thrown });
  return new DbaasError('INTERNAL', String(thrown), { cause: thrown });
}

/**
 * Whether a value is a {@link DbaasError}, optionally with a given code.
 *
 * @example
 * ```ts
 * if (isDbaasError(error, 'KUBE_FORBIDDEN')) askForRbac();
 * ```
 */
export function isDbaasError(value: unknown, code?: DbaasErrorCode): value is DbaasError {
  return value instanceof DbaasError && (code === undefined || value.code === code);
}
