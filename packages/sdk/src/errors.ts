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

  constructor(
    code: DbaasErrorCode,
    message: string,
    options: { fix?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fix = options.fix;
    this.details = options.details;
  }
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
  // input
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
  // manifests and snapshot metadata
  | 'INVALID_NAME'
  | 'INVALID_QUANTITY'
  | 'RESTORE_SIZE_TOO_SMALL'
  | 'STORAGE_CLASS_MISMATCH'
  | 'METADATA_INVALID'
  | 'METADATA_SCHEMA_UNSUPPORTED'
  // snapshot sets (list / describe / delete / prune)
  | 'SNAPSHOT_NOT_MANAGED'
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
