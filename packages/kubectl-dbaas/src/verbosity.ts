// kubectl's -v/--v: how much the CLI says about what it does, on stderr. Set once from the flag
// (a yargs middleware in main.ts); $DBAAS_DEBUG (any value) is the same as -v 1.

let level: number | undefined;

/**
 * The log verbosity: the `-v` flag, else 1 when `$DBAAS_DEBUG` is set, else 0.
 *
 * @example
 * ```ts
 * if (verbosity() >= 1) process.stderr.write(error.stack);
 * ```
 */
export function verbosity(): number {
  return level ?? (process.env['DBAAS_DEBUG'] ? 1 : 0);
}

/**
 * Sets the verbosity from `-v` (an unset or 0 flag leaves `$DBAAS_DEBUG` in effect).
 *
 * @example
 * ```ts
 * setVerbosity(6);
 * ```
 */
export function setVerbosity(value: number | undefined): void {
  level = value !== undefined && value > 0 ? value : undefined;
}
