// The root command against kubectl's habits: bare `kubectl dbaas`, `--version`, the --help pointer
// of usage errors, examples that never wrap, and kubectl's global flags accepted everywhere.
import { describe, expect, it } from 'vitest';
import { helpText } from './docs/cli-reference.js';
import { kubeClientsOptions } from './global-options.js';
import { buildCli, commandPath, normaliseArgs, withoutCamelCaseEchoes } from './main.js';
import { setVerbosity, verbosity } from './verbosity.js';

describe('kubectl dbaas, the root', () => {
  it('bare prints the help (exit 0, as bare kubectl); --version is the version command', () => {
    expect(normaliseArgs([])).toEqual(['--help']);
    expect(normaliseArgs(['--version'])).toEqual(['version']);
    expect(normaliseArgs(['--version', '-o', 'json'])).toEqual(['version', '-o', 'json']);
    expect(normaliseArgs(['backup', 'list'])).toEqual(['backup', 'list']);
  });

  it('names the failing command for the --help pointer of a usage error', () => {
    expect(commandPath(['backup', 'create', '--pvc', 'a'])).toEqual(['backup', 'create']);
    expect(commandPath(['-n', 'db', 'backup', 'ls', '-A'])).toEqual(['backup', 'list']);
    expect(commandPath(['backup', 'lsit'])).toEqual(['backup']);
    expect(commandPath(['wal', 'inspect', '/data'])).toEqual(['wal', 'inspect']);
    expect(commandPath(['restore', 'nightly', '--to', 'r'])).toEqual(['restore']);
    expect(commandPath(['bogus'])).toEqual([]);
  });

  it('names an unknown dashed flag once, as typed', () => {
    expect(withoutCamelCaseEchoes('Unknown arguments: all-namespaces, allNamespaces')).toBe('Unknown argument: all-namespaces');
    expect(withoutCamelCaseEchoes('Unknown arguments: a, b')).toBe('Unknown arguments: a, b');
    expect(withoutCamelCaseEchoes('Not enough non-option arguments')).toBe('Not enough non-option arguments');
  });

  it('prints every example of every command on its own lines, whole, at the width of docs/cli.md (kubectl style: # description, then the command)', async () => {
    const help = (path: string[], width: number) =>
      new Promise<string>((resolve, reject) => {
        buildCli([...path, '--help'], { width })
          .exitProcess(false)
          .parse([...path, '--help'], {}, (error, _argv, output) => (error ? reject(error) : resolve(output)));
      });
    const examples = (text: string) => text.split('\n\n').find((block) => block.startsWith('Examples:'));
    const paths = [
      [],
      ['backup'],
      ['backup', 'create'],
      ['backup', 'list'],
      ['backup', 'describe'],
      ['backup', 'delete'],
      ['backup', 'prune'],
      ['restore'],
      ['verify'],
      ['wal', 'inspect'],
      ['wal', 'status'],
      ['completion'],
      ['version'],
    ];
    let seen = 0;
    for (const path of paths) {
      const wrapped = examples(await help(path, 100));
      // At 100 columns exactly as without any wrapping: no example is broken across lines.
      expect(wrapped, path.join(' ')).toBe(examples(await help(path, 1000)));
      if (wrapped) seen += 1;
    }
    expect(seen).toBeGreaterThan(5);
    expect(await helpText(['backup', 'create'])).toContain(
      '  # No downtime: SQL through the API server to pg-0, the password from its POSTGRES_PASSWORD\n  kubectl dbaas backup create --pod pg-0 --mode online\n',
    );
  });

  it("accepts kubectl's global flags on any command", async () => {
    const args = [
      'version',
      '--user',
      'u',
      '--cluster',
      'c',
      '-s',
      'https://10.0.0.1:6443',
      '--token',
      't',
      '--as',
      'alice',
      '--request-timeout',
      '5s',
      '--insecure-skip-tls-verify',
      '--certificate-authority',
      '/ca.crt',
      '--client-certificate',
      '/c.crt',
      '--client-key',
      '/c.key',
      '--context',
      'x',
      '-v',
      '6',
      '-o',
      'name',
    ];
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((text: string) => {
      written.push(text);
      return true;
    }) as typeof process.stdout.write;
    try {
      await buildCli(args).exitProcess(false).parseAsync();
    } finally {
      process.stdout.write = write;
      setVerbosity(undefined);
    }
    expect(written.join('')).toBe('kubectl-dbaas\n');
  });

  it("maps kubectl's flags to the SDK's KubeClients options, with kubectl's meaning", () => {
    expect(kubeClientsOptions({ kubeconfig: '/k', context: 'prod', namespace: 'db' })).toEqual({ kubeconfig: '/k', context: 'prod', namespace: 'db' });
    expect(
      kubeClientsOptions({
        user: 'admin',
        cluster: 'c',
        server: 'https://s',
        token: 't',
        as: 'alice',
        insecureSkipTlsVerify: true,
        certificateAuthority: '/ca',
        clientCertificate: '/c',
        clientKey: '/k',
        requestTimeout: '1m30s',
      }),
    ).toEqual({
      overrides: {
        user: 'admin',
        cluster: 'c',
        server: 'https://s',
        token: 't',
        as: 'alice',
        insecureSkipTlsVerify: true,
        certificateAuthority: '/ca',
        clientCertificate: '/c',
        clientKey: '/k',
        requestTimeoutMs: 90_000,
      },
    });
    // A bare number is seconds, 0 is no timeout, as kubectl.
    expect(kubeClientsOptions({ requestTimeout: '30' }).overrides?.requestTimeoutMs).toBe(30_000);
    expect(kubeClientsOptions({ requestTimeout: '0' })).toEqual({});
    expect(() => kubeClientsOptions({ requestTimeout: 'soon' })).toThrow(/--request-timeout: "soon" is not a duration/);
  });

  it('-v replaces $DBAAS_DEBUG, which still works (as -v 1)', () => {
    const saved = process.env['DBAAS_DEBUG'];
    try {
      delete process.env['DBAAS_DEBUG'];
      setVerbosity(undefined);
      expect(verbosity()).toBe(0);
      process.env['DBAAS_DEBUG'] = '1';
      expect(verbosity()).toBe(1);
      setVerbosity(6);
      expect(verbosity()).toBe(6);
      expect(typeof kubeClientsOptions({}).overrides?.onRequest).toBe('function');
    } finally {
      setVerbosity(undefined);
      if (saved === undefined) delete process.env['DBAAS_DEBUG'];
      else process.env['DBAAS_DEBUG'] = saved;
    }
  });
});
