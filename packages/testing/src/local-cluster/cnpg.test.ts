import { dumpYaml, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CNPG_POSTGRES_IMAGE } from '../node/images.js';
import { STORAGE_CLASS } from './cluster.js';
import { cnpgClusterManifest, localizeCnpgManifest, parseManifest } from './cnpg.js';

const release = `apiVersion: v1
kind: Namespace
metadata:
  name: cnpg-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cnpg-controller-manager
  namespace: cnpg-system
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
      - name: manager
        image: ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0
        imagePullPolicy: Always
        env:
        - name: OPERATOR_IMAGE_NAME
          value: ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0
        - name: OPERATOR_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          size:
            anyOf: [{type: integer}, {type: string}]
            x-kubernetes-int-or-string: true
`;

type Container = { name: string; image: string; imagePullPolicy: string; env: { name: string; value?: string }[] };

describe('CloudNativePG manifest', () => {
  it('runs the operator from the local image without pulling, naming the local operator and operand images, and leaves the rest alone', () => {
    const objects = parseManifest(release);
    const local = localizeCnpgManifest(objects, { operator: 'localhost/op:1', postgres: 'localhost/pg:15' });
    const deployment = local.find((o) => o.kind === 'Deployment') as KubernetesObject & { spec: { template: { spec: { containers: Container[] } } } };
    const manager = deployment.spec.template.spec.containers[0]!;
    expect(manager.image).toBe('localhost/op:1');
    expect(manager.imagePullPolicy).toBe('IfNotPresent');
    expect(manager.env.filter((e) => e.name === 'OPERATOR_IMAGE_NAME')).toEqual([{ name: 'OPERATOR_IMAGE_NAME', value: 'localhost/op:1' }]);
    expect(manager.env.find((e) => e.name === 'POSTGRES_IMAGE_NAME')?.value).toBe('localhost/pg:15');
    expect(manager.env.some((e) => e.name === 'OPERATOR_NAMESPACE')).toBe(true);
    expect(local.filter((o) => o.kind !== 'Deployment')).toEqual(objects.filter((o) => o.kind !== 'Deployment'));
    // The parsed objects are untouched (the release stays as read).
    expect((objects[1] as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!.image).toBe(
      'ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0',
    );
  });

  it("keeps a CRD's int-or-string marker in what the client sends (taken raw, the client would drop it)", () => {
    const crd = parseManifest(release).find((o) => o.kind === 'CustomResourceDefinition');
    expect(dumpYaml(crd)).toMatch(/^\s+x-kubernetes-int-or-string: true$/m);
  });

  it('refuses a manifest without the operator Deployment', () => {
    expect(() => localizeCnpgManifest(parseManifest(release).slice(0, 1), { operator: 'a', postgres: 'b' })).toThrow(
      /no Deployment cnpg-system\/cnpg-controller-manager/,
    );
  });

  it('makes a Cluster on the local storage with the local operand image, walStorage only when asked', () => {
    const plain = cnpgClusterManifest({ namespace: 'db', name: 'pg' });
    expect(plain.spec).toMatchObject({
      instances: 2,
      imageName: CNPG_POSTGRES_IMAGE,
      enableSuperuserAccess: true,
      storage: { size: '1Gi', storageClass: STORAGE_CLASS },
      postgresql: { parameters: { checkpoint_completion_target: '0.9', wal_buffers: '16MB' } },
    });
    expect(plain.spec).not.toHaveProperty('walStorage');
    expect(cnpgClusterManifest({ namespace: 'db', name: 'pg', walStorage: true, instances: 1 }).spec).toMatchObject({
      instances: 1,
      walStorage: { size: '1Gi', storageClass: STORAGE_CLASS },
    });
  });
});
