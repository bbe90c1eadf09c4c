// The one place where the SDK's option names meet this CLI's flags: SDK errors name the option
// they are about (DbaasError.option, e.g. 'fencing'), never a flag, and the CLI says which flag
// that is. Keys are option names as the SDK's options objects spell them.

const FLAG_OF_SDK_OPTION: Readonly<Record<string, string>> = {
  namespace: '--namespace',
  backupNamespace: '--from-namespace',
  mode: '--mode',
  name: '--name',
  snapshotClass: '--snapshot-class',
  force: '--force',
  // The database's address: --host (or --dsn); its credentials from a Secret: --db-secret.
  database: '--host',
  'database.secretRef': '--db-secret',
  engineKind: '--engine',
  fencing: '--fence',
  fenceRetainClaims: '--fence-retain-pvcs',
  instance: '--instance',
  deadlineMs: '--timeout',
  pvcName: '--to',
  template: '--template',
  ordinal: '--ordinal',
  confirm: '--yes',
  pvc: '--pvc',
  storageClass: '--storage-class',
  'restore.storageClass': '--storage-class',
  'restore.consumerNode': '--consumer-node',
  consumerNode: '--consumer-node',
  clone: '--no-clone',
  dataSubPath: '--data-subpath',
  nodeSelector: '--node-selector',
  keepLast: '--keep-last',
  maxAge: '--max-age',
  keepDaily: '--keep-daily',
  keepWeekly: '--keep-weekly',
  keepMonthly: '--keep-monthly',
  kubeconfig: '--kubeconfig',
  context: '--context',
  'overrides.server': '--server',
  'overrides.user': '--user',
  'overrides.cluster': '--cluster',
  'overrides.certificateAuthority': '--certificate-authority',
  'overrides.clientCertificate': '--client-certificate',
  'overrides.clientKey': '--client-key',
  'overrides.insecureSkipTlsVerify': '--insecure-skip-tls-verify',
};

/**
 * The flag of this CLI that sets an SDK option, if any.
 *
 * @example
 * ```ts
 * flagOfSdkOption('fencing'); // '--fence'
 * ```
 */
export function flagOfSdkOption(option: string | undefined): string | undefined {
  return option === undefined ? undefined : FLAG_OF_SDK_OPTION[option];
}
