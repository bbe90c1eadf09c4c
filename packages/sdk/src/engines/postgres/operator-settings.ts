// Settings a copy of an operator's instance (CloudNativePG) carries that only the operator serves:
// TLS files, the socket and log directories under /controller, WAL archiving and restoring through
// its manager, its standbys and synchronous replication. A server started on the copy without the
// operator (verify's scratch server, a plain PostgreSQL pod) turns them off; one place says which.

/**
 * Turned off wherever a copy runs without its operator: no archiving or restoring through the
 * operator's manager, no primary to follow, no synchronous standby to wait for (a commit would hang),
 * no TLS files, logs on stderr.
 *
 * @example
 * ```ts
 * const settings = { ...OPERATOR_SETTINGS_OFF, recovery_target_action: 'promote' };
 * ```
 */
export const OPERATOR_SETTINGS_OFF: Readonly<Record<string, string>> = Object.freeze({
  archive_mode: 'off',
  archive_command: '',
  restore_command: '',
  primary_conninfo: '',
  primary_slot_name: '',
  synchronous_standby_names: '',
  ssl: 'off',
  logging_collector: 'off',
  log_destination: 'stderr',
});

/**
 * What a restore of a CloudNativePG instance's copy writes at the end of its postgresql.conf for a
 * plain PostgreSQL server: {@link OPERATOR_SETTINGS_OFF} and sockets where PostgreSQL images keep
 * them (CloudNativePG's /controller/run does not exist there; /tmp always does).
 *
 * @example
 * ```ts
 * await client.restore({ backup: 'nightly', namespace: 'db', pvcName: 'pg-plain' }); // PLAIN_SERVER_SETTINGS written by its Job
 * ```
 */
export const PLAIN_SERVER_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  ...OPERATOR_SETTINGS_OFF,
  unix_socket_directories: '/var/run/postgresql, /tmp',
});
