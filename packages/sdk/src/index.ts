// Explicit named exports only: nothing deep, nothing by wildcard.
export { DbaasError, toDbaasError, isDbaasError } from './errors.js';
export type { DbaasErrorCode } from './errors.js';
