import type { KubeClientsOptions } from '@kubectl-dbaas/sdk';
import type { Argv } from 'yargs';
// zod/mini: the same parsing as zod with tree-shakable functions; the CLI loads ~35 KB of it at
// start-up instead of ~750 KB (bench/cli-startup).
import * as z from 'zod/mini';
import { parseKubeDuration } from './duration.js';
import { verbosity } from './verbosity.js';

/**
 * Output formats every command understands, as kubectl's `-o`: `name` prints only what the
 * command's result is called (one per line), for scripts.
 *
 * @example
 * ```ts
 * OUTPUT_FORMATS.includes('name'); // true
 * ```
 */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml', 'name'] as const;

/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const text = () => z.optional(z.string().check(z.minLength(1)));

/**
 * kubectl's global flags, declared once at the root and parsed with zod, never cast.
 *
 * @example
 * ```ts
 * globalOptionsSchema.parse({ output: 'json' }).v; // 0
 * ```
 */
export const globalOptionsSchema = z.object({
  kubeconfig: text(),
  context: text(),
  namespace: text(),
  cluster: text(),
  user: text(),
  server: text(),
  token: text(),
  requestTimeout: text(),
  insecureSkipTlsVerify: z.optional(z.boolean()),
  certificateAuthority: text(),
  clientCertificate: text(),
  clientKey: text(),
  as: text(),
  v: z._default(z.int().check(z.minimum(0)), 0),
  output: z._default(z.enum(OUTPUT_FORMATS), 'text'),
});

/** The parsed global flags. */
export type GlobalOptions = z.infer<typeof globalOptionsSchema>;

/** The flags that say how to reach the cluster (every command that talks to it takes them). */
export type KubeArgs = Partial<
  Pick<
    GlobalOptions,
    | 'kubeconfig'
    | 'context'
    | 'namespace'
    | 'cluster'
    | 'user'
    | 'server'
    | 'token'
    | 'requestTimeout'
    | 'insecureSkipTlsVerify'
    | 'certificateAuthority'
    | 'clientCertificate'
    | 'clientKey'
    | 'as'
  >
>;

const KUBE_KEYS = [
  'kubeconfig',
  'context',
  'namespace',
  'cluster',
  'user',
  'server',
  'token',
  'requestTimeout',
  'insecureSkipTlsVerify',
  'certificateAuthority',
  'clientCertificate',
  'clientKey',
  'as',
] as const;

/**
 * The cluster flags of a command's parsed arguments, without the rest (and without unset ones).
 *
 * @example
 * ```ts
 * const parsed = { ...kubeArgs(args), name: args.name };
 * ```
 */
export function kubeArgs(args: KubeArgs): KubeArgs {
  const out: Record<string, unknown> = {};
  for (const key of KUBE_KEYS) if (args[key] !== undefined) out[key] = args[key];
  return out as KubeArgs;
}

/**
 * The SDK's KubeClients options for kubectl's flags, with kubectl's meaning: `--kubeconfig`,
 * `--context`, `-n`, and the connection overrides (`--cluster`, `--user`, `--server`, `--token`,
 * `--certificate-authority`, `--client-certificate`, `--client-key`, `--insecure-skip-tls-verify`,
 * `--as`, `--request-timeout`). With `-v 6` or more, each API request is logged on stderr.
 *
 * @example
 * ```ts
 * new SnapshotClient(kubeClientsOptions({ context: 'prod', user: 'admin', requestTimeout: '30s' }));
 * ```
 */
export function kubeClientsOptions(args: KubeArgs): KubeClientsOptions {
  const requestTimeoutMs =
    args.requestTimeout === undefined
      ? undefined
      : /^\d+$/.test(args.requestTimeout)
        ? Number(args.requestTimeout) * 1000
        : parseKubeDuration(args.requestTimeout, '--request-timeout');
  const overrides = {
    ...(args.cluster !== undefined ? { cluster: args.cluster } : {}),
    ...(args.user !== undefined ? { user: args.user } : {}),
    ...(args.server !== undefined ? { server: args.server } : {}),
    ...(args.token !== undefined ? { token: args.token } : {}),
    ...(args.certificateAuthority !== undefined ? { certificateAuthority: args.certificateAuthority } : {}),
    ...(args.clientCertificate !== undefined ? { clientCertificate: args.clientCertificate } : {}),
    ...(args.clientKey !== undefined ? { clientKey: args.clientKey } : {}),
    ...(args.insecureSkipTlsVerify !== undefined ? { insecureSkipTlsVerify: args.insecureSkipTlsVerify } : {}),
    ...(args.as !== undefined ? { as: args.as } : {}),
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
    // kubectl -v=6 logs each request; never its headers (they carry the credentials).
    ...(verbosity() >= 6 ? { onRequest: (method: string, url: string) => void process.stderr.write(`${method} ${url}\n`) } : {}),
  };
  return {
    ...(args.kubeconfig ? { kubeconfig: args.kubeconfig } : {}),
    ...(args.context ? { context: args.context } : {}),
    ...(args.namespace ? { namespace: args.namespace } : {}),
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
  };
}

/**
 * What the root's `--help` says about kubectl's connection flags (hidden in each command's help).
 *
 * @example
 * ```ts
 * console.log(CONNECTION_FLAGS_TEXT);
 * ```
 */
export const CONNECTION_FLAGS_TEXT =
  "Every command also takes kubectl's connection flags, with kubectl's meaning: --cluster, --user, --server/-s, --token, " +
  '--certificate-authority, --client-certificate, --client-key, --insecure-skip-tls-verify, --as, --request-timeout, ' +
  'and -v/--v N (log verbosity: 1 stack traces of unexpected errors, 6 every API request). kubectl does not pass its own flags to a plugin: ' +
  "give them after 'kubectl dbaas <command>'.";

/**
 * Adds kubectl's global flags to the root command (every command accepts them).
 *
 * @example
 * ```ts
 * withGlobalOptions(yargs(['-o', 'json'])).parseSync().output; // 'json'
 * ```
 */
export function withGlobalOptions<T>(argv: Argv<T>, args?: readonly string[]) {
  const common = argv
    .option('kubeconfig', { type: 'string', describe: 'Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)', global: true })
    .option('context', { type: 'string', describe: 'The kubeconfig context to use', global: true })
    .option('namespace', { alias: 'n', type: 'string', describe: "Namespace (default: the context's namespace)", global: true })
    .option('output', { alias: 'o', choices: OUTPUT_FORMATS, default: 'text' as OutputFormat, describe: 'Output format', global: true });
  // The connection flags are hidden (as kubectl hides its global flags in a command's help; the
  // root's help lists them, docs/cli.md describes them), so they are declared only when the
  // arguments name one: a start without them does not pay for eleven more yargs options
  // (bench/cli-startup). `args` undefined (docs, tests of the parser) declares them all.
  return args === undefined || args.some((arg) => CONNECTION_FLAG.test(arg)) ? withConnectionFlags(common) : common;
}

/** Any of kubectl's connection flags as typed: `--token=x`, `--no-insecure-skip-tls-verify`, `-s`, `-v6`. */
const CONNECTION_FLAG =
  /^(--(no-)?(cluster|user|server|token|certificate-authority|client-certificate|client-key|insecure-skip-tls-verify|as|request-timeout|v)(=|$)|-[sv]|-[a-zA-Z]*[sv])/;

function withConnectionFlags<T>(argv: Argv<T>) {
  const connection = { global: true, hidden: true } as const;
  return argv
    .option('cluster', { type: 'string', describe: "The kubeconfig cluster to use (instead of the context's)", ...connection })
    .option('user', { type: 'string', describe: "The kubeconfig user to use (instead of the context's)", ...connection })
    .option('server', { alias: 's', type: 'string', describe: 'The address of the Kubernetes API server', ...connection })
    .option('token', { type: 'string', describe: 'Bearer token for the API server', ...connection })
    .option('certificate-authority', { type: 'string', describe: 'A CA certificate file to check the API server with', ...connection })
    .option('client-certificate', { type: 'string', describe: 'A client certificate file for TLS', ...connection })
    .option('client-key', { type: 'string', describe: 'A client key file for TLS', ...connection })
    .option('insecure-skip-tls-verify', { type: 'boolean', describe: "Do not check the server's certificate (insecure)", ...connection })
    .option('as', { type: 'string', describe: 'User to impersonate', ...connection })
    .option('request-timeout', { type: 'string', describe: 'Give up on a single API request after this long (1s, 2m; 0: never)', ...connection })
    .option('v', { type: 'number', describe: 'Log verbosity: 1 stack traces of unexpected errors, 6 every API request', ...connection });
}

/**
 * `-A`/`--all-namespaces`, for the commands where it means something (`backup list`, `backup prune`).
 *
 * @example
 * ```ts
 * builder: (argv) => withAllNamespaces(argv).option('selector', { ... });
 * ```
 */
export function withAllNamespaces<T>(argv: Argv<T>) {
  return argv.option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'Across all namespaces' });
}

/** zod field of `-A`, to extend a command's argument schema with. */
export const allNamespacesShape = { allNamespaces: z._default(z.boolean(), false) };
