export { MinikubeCluster, minikubeAvailability, MINIKUBE_ADDONS } from './minikube.js';
export type { MinikubeOptions, MinikubeAvailability } from './minikube.js';
