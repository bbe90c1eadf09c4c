// Argument parsing of `restore` and `verify` through the real root command: mistakes are refused
// before the SDK is loaded or a cluster is contacted, as usage errors (exit 2) that say what to do.
import { describe, expect, it } from 'vitest';
import { usageError } from '../../test-support/usage-error.js';
import { helpText } from '../../docs/cli-reference.js';
import { objectName, parseCheck, parseSize, parseSubPath } from '../../flag-values.js';

describe('kubectl dbaas restore / verify: usage errors exit 2 with a useful message', () => {
  it.each([
    [['restore'], /name the backup to restore: kubectl dbaas restore BACKUP --to PVC/],
    [['restore', 'nightly'], /name the new PVC: --to PVC/],
    [['restore', 'nightly', '--to', 'Bad_Name'], /--to: "Bad_Name" is not a valid name/],
    [['restore', 'nightly', '--to', 'r', '--size', 'big'], /--size: "big" is not a storage quantity/],
    [['restore', 'nightly', '--to', 'r', '--timeout', '30'], /--timeout: "30" is not a duration/],
    [['restore', 'nightly', '--to', 'r', '--dry-run', 'yes'], /Invalid values:[\s\S]*dry-run/],
    // The restore-prep step is always a Job: --prep (job, or local for a kubelet-less test cluster) is gone.
    [['restore', 'nightly', '--to', 'r', '--prep', 'local'], /Unknown argument: prep/],
    [['restore', 'nightly', '--to', 'r', '--local-cluster', '/tmp/x'], /Unknown argument: local-cluster/],
    [['restore', 'nightly', '--to', 'r', '--prep-uid', '-1'], /--prep-uid: /],
    [['restore', 'nightly', '--to', 'r', '--data-subpath', '../etc'], /--data-subpath: "..\/etc" must be a relative path/],
    [['restore', 'nightly', '--to', 'r', '-A'], /Unknown argument: A/],
    [['restore', 'nightly', '--to', 'r', '--bogus'], /Unknown argument: bogus/],
    [['restore', 'nightly'], /a StatefulSet: --for-statefulset NAME .* or --in-place statefulset\/NAME, or a new CloudNativePG Cluster: --cnpg-cluster NAME/],
    [['restore', 'nightly', '--to', 'r', '--in-place', 'sts/pg'], /--to and --in-place do not go together/],
    [['restore', 'nightly', '--for-statefulset', 'a', '--in-place', 'sts/pg'], /--for-statefulset and --in-place do not go together/],
    [['restore', 'nightly', '--to', 'r', '--ordinal', '1'], /ordinal -> for-statefulset/],
    [['restore', 'nightly', '--to', 'r', '--yes'], /yes -> in-place/],
    [['restore', 'nightly', '--to', 'r', '--template', 'data'], /--template needs --for-statefulset or --in-place/],
    [['restore', 'nightly', '--in-place', 'pg'], /--in-place: "pg" is not a fenced object; use statefulset\/NAME/],
    [['restore', 'nightly', '--in-place', 'cnpg/pg'], /--in-place: "cnpg\/pg" is not a StatefulSet; use statefulset\/NAME/],
    [['restore', 'nightly', '--for-statefulset', 'Bad_Name'], /--for-statefulset: "Bad_Name" is not a valid name/],
    [['restore', 'nightly', '--for-statefulset', 'pg', '--ordinal', '-1'], /--ordinal: /],
    [['verify'], /name what to verify: --backup NAME .* or --pvc NAME/],
    [['verify', '--backup', 'a', '--pvc', 'b'], /--backup and --pvc do not go together/],
    [['verify', '--pvc', 'b', '--check', 'nosql'], /--check: "nosql" is not NAME=SQL/],
    [['verify', '--pvc', 'b', '--check', '=select true'], /--check: "=select true" is not NAME=SQL/],
    [['verify', '--pvc', 'b', '--amcheck', 'always'], /Invalid values:[\s\S]*amcheck/],
    [['verify', '--pvc', 'b', '--runtime', 'kubelet'], /Invalid values:[\s\S]*runtime/],
    [['verify', '--pvc', 'b', '--runtime', 'local'], /Invalid values:[\s\S]*Argument: runtime, Given: "local", Choices: "pod"/],
    [['verify', '--pvc', 'b', '--local-cluster', '/tmp/x'], /Unknown argument: local-cluster/],
    [['verify', '--pvc', 'b', '--from-namespace', 'prod'], /--from-namespace and --pvc do not go together/],
    [['verify', '--pvc', 'b', '--storage-class', 'fast'], /--storage-class and --pvc do not go together/],
    [['verify', '--pvc', 'b', '--prep-image', 'postgres:17'], /--prep-image and --pvc do not go together/],
    [['verify', '--pvc', 'b', '-o', 'name'], /verify has no -o name output/],
    [['verify', '--backup', 'a', '--no-clone'], /--no-clone goes with --pvc/],
    [['verify', '--pvc', 'b', '--consumer-node', 'Bad_Node'], /--consumer-node: "Bad_Node" is not a valid name/],
    [['verify', '--backup', 'a', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
  ])('%j', async (args, message) => {
    const stderr = await usageError(args);
    expect(stderr).toMatch(message);
    expect(stderr).toContain(`Run 'kubectl dbaas ${args[0]} --help' for usage.`);
  });
});

describe('flag values', () => {
  it('parses sizes, names, subpaths and checks', () => {
    expect(parseSize('20Gi')).toBe('20Gi');
    expect(parseSize('1.5T')).toBe('1.5T');
    expect(objectName('pg-restored.v2', '--to')).toBe('pg-restored.v2');
    expect(parseSubPath('pgdata/17')).toBe('pgdata/17');
    expect(parseSubPath('')).toBe('');
    expect(() => parseSubPath('/abs')).toThrow(/must be a relative path/);
    expect(parseCheck('orders = select count(*) = 2 from t')).toEqual({ name: 'orders', sql: 'select count(*) = 2 from t' });
  });
});

describe('--help', () => {
  it('offers no test-only mode: the restore-prep step is a Job, verify runs in pods', async () => {
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    const restore = flat(await helpText(['restore']));
    expect(restore).toContain('kubectl dbaas restore [backup]');
    const verify = flat(await helpText(['verify']));
    expect(verify).toContain('pod (pods in the cluster, over exec and port-forward) [choices: "pod"] [default: "pod"]');
    for (const text of [restore, verify]) {
      expect(text).not.toMatch(/local|@kubectl-dbaas\/testing|test cluster/);
    }
  });
});
