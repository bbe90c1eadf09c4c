import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DbaasError } from '../errors.js';
import { kubeErrorCode, parseStatus, toKubeError } from './errors.js';

const status = (code: number, reason: string, message: string, details: Record<string, unknown> = {}) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code });

const server = 'https://127.0.0.1:6443';

describe('toKubeError', () => {
  it('403: names verb, resource, group, namespace and user; the fix is a Role rule and kubectl commands', () => {
    const body = status(
      403,
      'Forbidden',
      'volumesnapshots.snapshot.storage.k8s.io is forbidden: User "system:serviceaccount:db:backup" cannot list resource "volumesnapshots" in API group "snapshot.storage.k8s.io" in the namespace "db"',
      { group: 'snapshot.storage.k8s.io', kind: 'volumesnapshots' },
    );
    const e = toKubeError(new ApiException(403, 'Unknown API Status Code!', body, {}), {
      verb: 'list',
      resource: 'volumesnapshots',
      group: 'snapshot.storage.k8s.io',
      namespace: 'db',
      server,
    });
    expect(e.code).toBe('KUBE_FORBIDDEN');
    expect(e.message).toMatch(
      /^forbidden: system:serviceaccount:db:backup cannot list volumesnapshots \(API group "snapshot.storage.k8s.io"\) in namespace "db": /,
    );
    expect(e.fix).toContain('Role in namespace "db"');
    expect(e.fix).toContain('- apiGroups: ["snapshot.storage.k8s.io"]');
    expect(e.fix).toContain('resources: ["volumesnapshots"]');
    expect(e.fix).toContain('verbs: ["list"]');
    expect(e.fix).toContain('kubectl create role dbaas-volumesnapshots-list --verb=list --resource=volumesnapshots.snapshot.storage.k8s.io -n db');
    expect(e.fix).toContain('--serviceaccount=db:backup');
    expect(e.details).toMatchObject({ verb: 'list', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: 'db', httpStatus: 403 });
  });

  it('403 at cluster scope and in the core group: ClusterRole, core group ""', () => {
    const body = status(
      403,
      'Forbidden',
      'storageclasses.storage.k8s.io is forbidden: User "alice" cannot list resource "storageclasses" in API group "storage.k8s.io" at the cluster scope',
    );
    const e = toKubeError(new ApiException(403, 'x', body, {}), { verb: 'list', resource: 'storageclasses', group: 'storage.k8s.io' });
    expect(e.message).toContain('cannot list storageclasses (API group "storage.k8s.io") at cluster scope');
    expect(e.fix).toContain('ClusterRole');
    expect(e.fix).toContain('kubectl create clusterrole');
    expect(e.fix).toContain('--user=alice');
    const core = toKubeError(
      new ApiException(
        403,
        'x',
        status(
          403,
          'Forbidden',
          'persistentvolumeclaims "p" is forbidden: User "bob" cannot get resource "persistentvolumeclaims" in API group "" in the namespace "db"',
        ),
        {},
      ),
    );
    expect(core.message).toContain('cannot get persistentvolumeclaims (the core API group) in namespace "db"');
    expect(core.fix).toContain('- apiGroups: [""]');
  });

  it('403 without a Status body (a watch) falls back to the operation', () => {
    const e = toKubeError(Object.assign(new Error('Forbidden'), { statusCode: 403 }), { verb: 'watch', resource: 'configmaps', group: '', namespace: 'db' });
    expect(e.code).toBe('KUBE_FORBIDDEN');
    expect(e.message).toBe('forbidden: cannot watch configmaps (the core API group) in namespace "db"');
    expect(e.fix).toContain('verbs: ["watch"]');
  });

  it('404, 409, 422, 401, 5xx with the API message', () => {
    const nf = toKubeError(
      new ApiException(
        404,
        'x',
        status(404, 'NotFound', 'volumesnapshots.snapshot.storage.k8s.io "x" not found', {
          name: 'x',
          group: 'snapshot.storage.k8s.io',
          kind: 'volumesnapshots',
        }),
        {},
      ),
      {
        verb: 'get',
        resource: 'volumesnapshots',
        group: 'snapshot.storage.k8s.io',
        namespace: 'db',
        name: 'x',
      },
    );
    expect(nf.code).toBe('KUBE_NOT_FOUND');
    expect(nf.message).toBe('volumesnapshots.snapshot.storage.k8s.io "x" in namespace "db" not found');
    const api = toKubeError(new ApiException(404, 'x', status(404, 'NotFound', 'the server could not find the requested resource'), {}), {
      verb: 'list',
      resource: 'volumesnapshots',
      group: 'snapshot.storage.k8s.io',
      server,
    });
    expect(api.message).toContain(`the API server ${server} does not serve volumesnapshots.snapshot.storage.k8s.io`);
    expect(api.fix).toContain('external-snapshotter');
    const exists = toKubeError(
      new ApiException(409, 'x', status(409, 'AlreadyExists', 'persistentvolumeclaims "p" already exists', { name: 'p', kind: 'persistentvolumeclaims' }), {}),
      { verb: 'create', resource: 'persistentvolumeclaims', namespace: 'db', name: 'p' },
    );
    expect(exists.code).toBe('KUBE_CONFLICT');
    expect(exists.message).toBe('persistentvolumeclaims "p" in namespace "db" already exists: persistentvolumeclaims "p" already exists');
    const invalid = toKubeError(
      new ApiException(
        422,
        'x',
        status(
          422,
          'Invalid',
          'VolumeSnapshot.snapshot.storage.k8s.io "x" is invalid: spec.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set',
          {
            causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "object": exactly one of ...', field: 'spec.source' }],
          },
        ),
        {},
      ),
      { verb: 'create', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: 'db' },
    );
    expect(invalid.code).toBe('KUBE_INVALID');
    expect(invalid.message).toContain('exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set');
    expect(invalid.details?.causes).toEqual(['spec.source: Invalid value: "object": exactly one of ...']);
    const unauth = toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), { server, context: 'prod' });
    expect(unauth.code).toBe('KUBE_UNAUTHORIZED');
    expect(unauth.message).toBe(`the API server ${server} rejected the credentials of context "prod" (401 Unauthorized)`);
    const busy = toKubeError(new ApiException(503, 'x', status(503, 'ServiceUnavailable', 'etcd leader changed'), {}), { verb: 'list', resource: 'pods' });
    expect(busy.code).toBe('KUBE_API_ERROR');
    expect(busy.message).toBe('list pods failed with HTTP 503 ServiceUnavailable: etcd leader changed');
  });

  it('network failures name the server; aborts and DbaasErrors pass through', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
    const e = toKubeError(refused, { verb: 'get', resource: 'pods', server });
    expect(e.code).toBe('KUBE_UNREACHABLE');
    expect(e.message).toBe(`cannot connect to the Kubernetes API server ${server}: connection refused (while trying to get pods)`);
    const agg = new TypeError('fetch failed', { cause: new AggregateError([Object.assign(new Error('x'), { code: 'ETIMEDOUT' })]) });
    expect(toKubeError(agg, { server }).message).toContain('did not answer in time (ETIMEDOUT)');
    // undici's shape for a port on the Fetch standard's blocked list (seen with a server on port 1).
    const badPort = toKubeError(new TypeError('fetch failed', { cause: new Error('bad port') }), { verb: 'list', resource: 'pods', server });
    expect(badPort.code).toBe('KUBE_UNREACHABLE');
    expect(badPort.message).toContain('fetch refuses that port');
    const tls = new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) });
    expect(toKubeError(tls, { server }).message).toContain('TLS verification');
    expect(toKubeError(new DOMException('aborted', 'AbortError')).code).toBe('KUBE_ABORTED');
    const own = new DbaasError('KUBE_TIMEOUT', 'x');
    expect(toKubeError(own)).toBe(own);
  });

  it('helpers', () => {
    expect(parseStatus('not json')).toBeUndefined();
    expect(parseStatus({ kind: 'Status', code: 410, reason: 'Expired' })?.code).toBe(410);
    expect(kubeErrorCode(409)).toBe('KUBE_CONFLICT');
  });
});
