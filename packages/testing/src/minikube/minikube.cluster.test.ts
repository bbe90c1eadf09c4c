import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { minikubeAvailability, MinikubeCluster } from './minikube.js';
import { skipWhen } from '../skip-reason.js';

const run = promisify(execFile);
const availability = await minikubeAvailability();
const context = process.env.DBAAS_TESTING_MINIKUBE_CONTEXT;
const usable = availability.available || !!context;
if (!usable) console.warn(`[dbaas-testing] minikube tests skipped (not passed): ${availability.available ? '' : availability.reason}`);

describe('minikube with volumesnapshots + csi-hostpath-driver', () => {
  it('reports a reason when minikube or docker is missing', () => {
    if (availability.available) expect(availability).toEqual({ available: true });
    else expect(availability.reason).toMatch(/minikube|docker/i);
  });

  it(
    'has the hostpath storage class and snapshot class',
    skipWhen(usable ? undefined : availability.available ? 'minikube is not usable here' : availability.reason),
    async () => {
      const mk = await MinikubeCluster.start(context ? { context } : {});
      if ('skipped' in mk) throw new Error(mk.skipped);
      try {
        const sc = await run('kubectl', ['--kubeconfig', mk.kubeconfigPath, 'get', 'storageclass', 'csi-hostpath-sc', '-o', 'jsonpath={.provisioner}']);
        expect(sc.stdout).toBe('hostpath.csi.k8s.io');
        const vsc = await run('kubectl', [
          '--kubeconfig',
          mk.kubeconfigPath,
          'get',
          'volumesnapshotclass',
          'csi-hostpath-snapclass',
          '-o',
          'jsonpath={.driver}',
        ]);
        expect(vsc.stdout).toBe('hostpath.csi.k8s.io');
      } finally {
        await mk.stop();
      }
    },
  );
});
