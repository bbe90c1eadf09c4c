import type { CommandModule } from 'yargs';
import * as z from 'zod/mini';
import { parseKubeDuration } from '../../duration.js';
import { requireFencedObject } from '../../fence-object.js';
import { globalOptionsSchema, kubeArgs } from '../../global-options.js';
import { writeResult } from '../../output.js';
import { parseArgs } from '../../parse-args.js';
import { UsageError } from '../../usage-error.js';

const unfenceArgsSchema = z.extend(globalOptionsSchema, {
  object: z.optional(z.string().check(z.minLength(1))),
  instance: z.optional(z.string().check(z.minLength(1))),
  force: z._default(z.boolean(), false),
  timeout: z._default(z.string(), '5m'),
});

/**
 * `kubectl dbaas unfence statefulset/NAME|cnpg/CLUSTER`: lifts the fence a killed or failed
 * `backup create --mode fenced` left (the StatefulSet scaled back to its recorded replicas, or the
 * CloudNativePG instance taken out of `cnpg.io/fencedInstances`) and waits until the database serves
 * again. A fence whose lease a live backup holds is left alone unless `--force`.
 *
 * @example
 * ```sh
 * kubectl dbaas unfence statefulset/pg -n db
 * ```
 */
export const unfenceCommand: CommandModule = {
  command: 'unfence <object>',
  describe: 'Lift the fence a killed or failed fenced backup left on a StatefulSet or a CloudNativePG instance, and wait until the database serves again',
  builder: (argv) =>
    argv
      .positional('object', { type: 'string', describe: 'statefulset/NAME (or sts/NAME) or cnpg/CLUSTER' })
      .option('instance', { type: 'string', describe: 'With cnpg/CLUSTER: the instance (default: the one the fence lease names)' })
      .option('force', { type: 'boolean', default: false, describe: "Lift it even while another backup's lease is live (that backup's process is gone)" })
      .option('timeout', { type: 'string', default: '5m', describe: 'How long to wait for the database to serve again (90s, 5m, ...)' })
      .example('kubectl dbaas unfence statefulset/pg -n db', 'Scale pg back to the replicas recorded when it was fenced')
      .example('kubectl dbaas unfence cnpg/pg --instance pg-2 -n db', "Take pg-2 out of the Cluster's cnpg.io/fencedInstances"),
  handler: async (argv) => {
    const args = parseArgs(unfenceArgsSchema, argv);
    if (!args.object) throw new UsageError('name the fenced object: kubectl dbaas unfence statefulset/NAME or cnpg/CLUSTER');
    const object = requireFencedObject(args.object, 'unfence');
    if (args.instance !== undefined && object.kind !== 'cnpg') throw new UsageError('--instance goes with cnpg/CLUSTER (it names the CloudNativePG instance)');
    const timeoutMs = parseKubeDuration(args.timeout, '--timeout');
    const { runUnfence, renderUnfence } = await import('./run.js');
    const report = await runUnfence({ ...kubeArgs(args), object, ...(args.instance ? { instance: args.instance } : {}), force: args.force, timeoutMs });
    await writeResult(report, args.output, { text: renderUnfence, name: (r) => r.object });
  },
};
