// `instanceof` for the SDK's classes across copies of the SDK in one process.
//
// A process can hold two copies of the SDK: the kubectl-dbaas plugin's npm package has the SDK
// bundled into its own chunks, while @kubectl-dbaas/testing (which `restore --prep local` and
// `verify --runtime local` import) loads the SDK from node_modules. Objects cross between the copies:
// the plugin's KubeClients go into the testing package's restore-prep executor and verify runtime
// (and from there into its copy of watchUntil), and the DbaasErrors those throw come back to the
// plugin's copy of RestoreClient, toDbaasError and the plugin's error handler. A plain `instanceof`
// compares prototypes, so it would call the other copy's DbaasError an unknown error (code INTERNAL,
// its fix lost) and re-load the other copy's KubeClients from the kubeconfig.
//
// So each class that is tested with `instanceof` carries a brand under a registered symbol
// (Symbol.for: one registry per process, shared by every copy and every realm), and its
// `Symbol.hasInstance` checks the brand instead of the prototype chain. The brand's key is the
// contract: change it if the class's shape changes incompatibly, so that copies that disagree on
// the shape do not recognise each other.

/**
 * Makes `value instanceof constructor` true for instances made by any copy of the SDK's module that
 * defines `constructor` (the same `key`), in any realm of the process. Subclasses keep the ordinary
 * `instanceof`. Called once per class, from the class's static block.
 *
 * @example
 * ```ts
 * class KubeClients {
 *   static {
 *     recognisedAcrossCopies(this, 'KubeClients');
 *   }
 * }
 * ```
 */
export function recognisedAcrossCopies(constructor: { readonly prototype: object }, key: string): void {
  const brand = Symbol.for(`@kubectl-dbaas/sdk ${key}`);
  Object.defineProperty(constructor.prototype, brand, { value: true });
  Object.defineProperty(constructor, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      // A subclass inherits this static method: for it, the ordinary prototype-chain test.
      if (this !== constructor) return Function.prototype[Symbol.hasInstance].call(this, value);
      return (typeof value === 'object' || typeof value === 'function') && value !== null && (value as Record<symbol, unknown>)[brand] === true;
    },
  });
}
