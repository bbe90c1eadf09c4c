// Argument parsing of the backup commands through the real root command: every mistake here is
// refused before the SDK is loaded or a cluster is contacted, as a usage error (exit 2) that says
// what to do.
import { describe, expect, it } from 'vitest';
import { usageError } from '../../test-support/usage-error.js';

describe('kubectl dbaas backup: usage errors exit 2 with a useful message', () => {
  it.each([
    [['backup'], /Name a backup command: create, list, describe, delete or prune/],
    [['backup', 'lsit'], /Unknown argument: lsit|Did you mean list/],
    [['backup', 'list', '--bogus'], /Unknown argument: bogus/],
    [['backup', 'list', '-o', 'wide'], /Invalid values:[\s\S]*output/],
    [['backup', 'create'], /name what to back up: --pvc NAME/],
    [['backup', 'create', '--pvc', 'a', '--pod', 'b'], /give one target, not --pvc and --pod/],
    [['backup', 'create', '--pvc', 'a', '--mode', 'snapshot'], /Invalid values:[\s\S]*mode/],
    [['backup', 'create', '--pvc', 'a', '--timeout', '30'], /--timeout: "30" is not a duration/],
    [['backup', 'create', '--pvc', 'a', '--fence', 'none'], /--fence: "none" is not a fencing/],
    [['backup', 'create', '--pvc', 'a', '--fence', 'sts/pg', '--mode', 'online'], /--fence applies to --mode fenced, not online/],
    [['backup', 'create', '--pvc', 'a', '-A'], /Unknown argument: A/],
    [['backup', 'describe', 'x', '--all-namespaces'], /Unknown argument: all-namespaces/],
    [['backup', 'create', '--cnpg-cluster', 'pg', '--pvc', 'a'], /give one target, not --pvc and --cnpg-cluster/],
    [['backup', 'create', '--pvc', 'a', '--instance', 'pg-1'], /--instance goes with --cnpg-cluster/],
    [['backup', 'create', '--pvc', 'a', '--request-timeout', 'soon'], /--request-timeout: "soon" is not a duration/],
    [['backup', 'create', '--pvc', 'a', '--dry-run', 'yes'], /Invalid values:[\s\S]*dry-run/],
    [['backup', 'create', '--pvc', 'a', '--port', 'x'], /--port: /],
    [['backup', 'describe'], /name the backup to describe/],
    [['backup', 'delete'], /name the backups to delete/],
    [['backup', 'delete', 'a', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
    [['backup', 'prune'], /give at least one retention rule/],
    [['backup', 'prune', '--keep-last', '-1'], /--keep-last: must be 0 or more/],
    [['backup', 'prune', '--max-age', '7days'], /--max-age: use a number and a unit/],
    [['backup', 'prune', '--keep-last', '1', '--wait'], /a flag needs another one[\s\S]*wait -> yes/],
  ])('%j', async (args, message) => {
    const stderr = await usageError(args);
    expect(stderr).toMatch(message);
    // The pointer is to the help of the command that failed, as far as it was named.
    const named = args[1] !== undefined && ['create', 'list', 'describe', 'delete', 'prune'].includes(args[1]) ? `backup ${args[1]}` : 'backup';
    expect(stderr).toContain(`Run 'kubectl dbaas ${named} --help' for usage.`);
  });
});
