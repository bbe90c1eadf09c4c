/**
 * Documented exit codes (docs/cli.md, generated from {@link EXIT_CODES}).
 *
 * @example
 * ```ts
 * process.exitCode = EXIT_OK;
 * ```
 */
export const EXIT_OK = 0;
/** The command ran and failed (or, for `wal inspect` and `verify`, found the copy not restorable). */
export const EXIT_FAILURE = 1;
/**
 * The command was called wrongly: unknown command or flag, bad value, found before anything is
 * read from the cluster (by the CLI, or by the SDK: a DbaasError of kind `usage`).
 */
export const EXIT_USAGE = 2;
/** Interrupted by SIGINT (Ctrl-C) after cleaning up: 128 + 2, as shells report it. */
export const EXIT_SIGINT = 130;
/** Interrupted by SIGTERM after cleaning up: 128 + 15. */
export const EXIT_SIGTERM = 143;

/**
 * Every exit code with its meaning, for the generated CLI reference.
 *
 * @example
 * ```ts
 * EXIT_CODES.find((c) => c.code === 2)?.meaning;
 * ```
 */
export const EXIT_CODES: ReadonlyArray<{ code: number; meaning: string }> = [
  { code: EXIT_OK, meaning: 'Success. For `wal inspect`: the copy is restorable; for `verify`: every check passed.' },
  {
    code: EXIT_FAILURE,
    meaning:
      'The command failed; the error, the flag it is about (`flag:`) and its fix are printed on stderr. Whatever the cause: an object that does not exist (a backup, PVC, namespace, ' +
      'the workload or database a backup needs), a state that does not allow it (a PVC not Bound, a mode the driver cannot do safely, a target that exists), ' +
      'an API server or database that cannot be reached or refuses, the Node.js running the npm build too old, a timeout. ' +
      'For `wal inspect`: also the copy is not restorable; for `verify`: also a check failed (each failure is printed).',
  },
  {
    code: EXIT_USAGE,
    meaning:
      'Usage error, and only that: unknown command or flag, missing argument, bad value, flags that do not go together, found before anything is read from the cluster ' +
      "(printed with the flag concerned when there is one, the fix, and a pointer to the failing command's `--help`, e.g. `kubectl dbaas backup create --help`).",
  },
  {
    code: EXIT_SIGINT,
    meaning:
      'Interrupted by Ctrl-C (SIGINT) during a long operation, after cleaning up: for `backup create`, the fence lifted, the backup session ended, the partial snapshots deleted; for `restore` and `verify`, what they created deleted (what remains is printed). A second Ctrl-C exits at once without cleanup.',
  },
  { code: EXIT_SIGTERM, meaning: 'Interrupted by SIGTERM, with the same cleanup as for SIGINT.' },
];
