// The one error handler against real DbaasErrors of every kind: the exit code, the flag it names
// for an SDK option, the fix, and the --help pointer only for usage errors.
import { DbaasError } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { reportError } from './error-handler.js';
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { UsageError } from './usage-error.js';

async function report(thrown: unknown): Promise<{ code: number; stderr: string }> {
  const written: string[] = [];
  const code = await reportError(thrown, (text) => void written.push(text), { command: 'kubectl dbaas backup create' });
  return { code, stderr: written.join('') };
}

describe('reportError', () => {
  it('an SDK usage error exits 2 with its message, the flag of its option, its fix and the --help pointer', async () => {
    const error = new DbaasError('INVALID_ARGUMENT', 'fencing a CloudNativePG cluster needs the instance to fence', {
      option: 'fencing',
      fix: 'Name the instance to fence.',
    });
    expect(error.kind).toBe('usage');
    const { code, stderr } = await report(error);
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).toBe(
      'error: fencing a CloudNativePG cluster needs the instance to fence\n' +
        'flag: --fence\n' +
        'fix: Name the instance to fence.\n' +
        "Run 'kubectl dbaas backup create --help' for usage.\n",
    );
  });

  it('every usage code of the SDK exits 2', async () => {
    for (const code of ['INVALID_ARGUMENT', 'INVALID_LSN', 'INVALID_WAL_FILE_NAME', 'INVALID_NAME', 'INVALID_QUANTITY', 'KUBE_CONFIG_INVALID'] as const) {
      expect((await report(new DbaasError(code, 'bad'))).code, code).toBe(EXIT_USAGE);
    }
  });

  it('not-found, refused and failed exit 1, with the flag when the option has one and no --help pointer', async () => {
    const notFound = new DbaasError('TARGET_NOT_FOUND', 'no StatefulSet found that mounts PVC db/data', {
      fix: 'Name the workload to fence.',
      option: 'fencing',
    });
    const refused = new DbaasError('MODE_UNSAFE', 'mode "crash" is unsafe on hostpath.csi.k8s.io', { option: 'mode' });
    const failed = new DbaasError('KUBE_TIMEOUT', 'the snapshot did not become ready in 5m');
    expect([notFound.kind, refused.kind, failed.kind]).toEqual(['not-found', 'refused', 'failed']);
    const shown = await report(notFound);
    expect(shown.code).toBe(EXIT_FAILURE);
    expect(shown.stderr).toBe('error: no StatefulSet found that mounts PVC db/data\nflag: --fence\nfix: Name the workload to fence.\n');
    expect(await report(refused)).toEqual({ code: EXIT_FAILURE, stderr: 'error: mode "crash" is unsafe on hostpath.csi.k8s.io\nflag: --mode\n' });
    expect(await report(failed)).toEqual({ code: EXIT_FAILURE, stderr: 'error: the snapshot did not become ready in 5m\n' });
  });

  it('an option this CLI has no flag for prints no flag line', async () => {
    const { code, stderr } = await report(new DbaasError('INVALID_ARGUMENT', 'page size must be a positive integer, got 0', { option: 'pageSize' }));
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).not.toContain('flag:');
  });

  it("the CLI's own usage errors exit 2; anything unexpected exits 1", async () => {
    expect(await report(new UsageError('--size: "x" is not a storage quantity'))).toEqual({
      code: EXIT_USAGE,
      stderr: 'error: --size: "x" is not a storage quantity\nRun \'kubectl dbaas backup create --help\' for usage.\n',
    });
    expect(await report(new TypeError('boom'))).toEqual({ code: EXIT_FAILURE, stderr: 'error: boom\n' });
  });
});
