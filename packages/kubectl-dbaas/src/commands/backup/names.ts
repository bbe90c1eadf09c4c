/**
 * A backup name as given on the command line: `NAME` or kubectl's `backup/NAME` (what `-o name`
 * prints), so `backup list -o name | xargs kubectl dbaas backup delete` works.
 *
 * @example
 * ```ts
 * backupNameArg('backup/nightly'); // 'nightly'
 * ```
 */
export function backupNameArg(arg: string): string {
  return arg.replace(/^backups?\//, '');
}
