// The SDK's error type and normaliser, alone: what the error handler imports when a command failed.
// The npm build takes them from the SDK's errors module, not through the SDK's index, so a failure
// loads no more of the SDK than the command did (see sdkDirectImports in tsup.config.ts).
export { DbaasError, toDbaasError } from '@kubectl-dbaas/sdk';
