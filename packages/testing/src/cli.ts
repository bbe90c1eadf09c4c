#!/usr/bin/env node
/**
 * `dbaas-testing build|up|down|status`: the local Kubernetes cluster for kubectl-dbaas tests.
 *
 *   dbaas-testing build            build (or find in the cache) every binary, printing progress
 *   dbaas-testing up [--name N]    start a cluster in the background; prints `export KUBECONFIG=...`
 *   dbaas-testing status [--name N]  per-component state
 *   dbaas-testing down [--name N]  stop it and remove its state directory
 *   dbaas-testing images [NAME...] build (or find in the cache) the test node's container images
 */
import { fileURLToPath } from 'node:url';
import { BUILT_TOOLS, LOCAL_SOURCE_TOOLS, buildBinaries, goVersion, resolveBinaries } from './local-cluster/binaries.js';
import { cacheRoot } from './local-cluster/paths.js';
import { nodeUnavailableReason } from './local-cluster/node/host.js';
import { down, status, supervise, up } from './local-cluster/supervisor.js';
import { CNPG_IMAGE_NAMES, TEST_IMAGE_NAMES, buildTestImage, buildTestImages, type TestImageName } from './node/images.js';

const USAGE = `usage: dbaas-testing <build|up|down|status|images> [--name NAME]

  build    build the cluster's binaries from Go modules into ~/.cache/kubectl-dbaas/bin/<key>/
  up       start a local cluster in the background and print "export KUBECONFIG=..."
           (--without-node: no kubelet or containerd, e.g. beside another cluster's node)
  status   show each component's state
  down     stop the cluster and remove its state directory
  images   build the test node's container images (pause, postgres 14-18, mariadb) as OCI
           archives into ~/.cache/kubectl-dbaas/images/ (needs root; prints time per image);
           \`images NAME...\` builds only those, e.g. CloudNativePG's: ${CNPG_IMAGE_NAMES.join(' ')}

environment: DBAAS_TESTING_BIN_DIR (prebuilt binaries, incl. hostpathplugin and cnpg-manager),
             DBAAS_TESTING_CACHE_DIR (cache root, default ~/.cache/kubectl-dbaas)`;

function parseArgs(argv: string[]): { cmd: string | undefined; name: string; rest: string[] } {
  let name = 'default';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--name') {
      const v = argv[++i];
      if (!v) throw new Error('--name needs a value');
      name = v;
    } else if (a.startsWith('--name=')) name = a.slice('--name='.length);
    else rest.push(a);
  }
  return { cmd: rest.shift(), name, rest };
}

function scriptPath(): string {
  if (typeof __filename === 'string') return __filename;
  return fileURLToPath(import.meta.url);
}

async function main(argv: string[]): Promise<number> {
  const { cmd, name, rest } = parseArgs(argv);
  switch (cmd) {
    case 'build': {
      const t0 = Date.now();
      console.error(`[dbaas-testing] ${await goVersion()}; cache ${cacheRoot()}/bin`);
      const { seconds } = await buildBinaries({ log: (l) => console.error(l) });
      const built = Object.keys(seconds);
      console.log(
        built.length
          ? `built ${built.map((t) => `${t} (${seconds[t as keyof typeof seconds]}s)`).join(', ')} in ${Math.round((Date.now() - t0) / 1000)}s`
          : `all ${BUILT_TOOLS.length + LOCAL_SOURCE_TOOLS.length} binaries cached`,
      );
      const bins = await resolveBinaries({ log: (l) => console.error(l) });
      for (const [tool, file] of Object.entries(bins.paths)) console.log(`${tool}: ${file}`);
      if (bins.hostpathUnavailable) console.log(`CSI hostpath plugin unavailable: ${bins.hostpathUnavailable}`);
      if (bins.btrfsDriverUnavailable) console.log(`btrfs CSI driver unavailable: ${bins.btrfsDriverUnavailable}`);
      // The node's images, when this machine can run a node (they are built as root).
      const noNode = nodeUnavailableReason();
      if (noNode) {
        console.log(`node images not built: ${noNode}`);
      } else {
        for (const b of await buildTestImages({ log: (l) => console.error(`[images] ${l}`) })) {
          console.log(`${b.ref}: ${b.cached ? 'cached' : `built in ${b.seconds}s`}, ${(b.size / 1e6).toFixed(1)} MB`);
        }
      }
      return 0;
    }
    case 'images': {
      const t0 = Date.now();
      const known: readonly string[] = [...TEST_IMAGE_NAMES, ...CNPG_IMAGE_NAMES];
      const unknown = rest.filter((image) => !known.includes(image));
      if (unknown.length) throw new Error(`no image named ${unknown.join(', ')}; images: ${known.join(' ')}`);
      const images = rest.length ? (rest as TestImageName[]) : TEST_IMAGE_NAMES;
      for (const image of images) {
        const b = await buildTestImage(image, { log: (l) => console.error(`[images] ${l}`) });
        console.log(`${b.ref}\t${b.cached ? 'cached' : 'built'}\t${b.seconds}s\t${(b.size / 1e6).toFixed(1)} MB\t${b.archive}`);
      }
      console.log(`${rest.length ? images.length : `all ${images.length}`} images in ${Math.round((Date.now() - t0) / 100) / 10}s`);
      return 0;
    }
    case 'up': {
      const rec = await up(
        name,
        { execPath: process.execPath, execArgv: process.execArgv, script: scriptPath() },
        { withoutNode: rest.includes('--without-node') },
      );
      console.log(`export KUBECONFIG=${rec.kubeconfig}`);
      return 0;
    }
    case 'down': {
      const found = await down(name, (l) => console.error(l));
      console.log(found ? `cluster "${name}" stopped` : `cluster "${name}": not running`);
      return 0;
    }
    case 'status': {
      const s = await status(name);
      for (const l of s.lines) console.log(l);
      return s.running ? 0 : 3;
    }
    case '__supervise': {
      const [supName, logFile] = rest;
      if (!supName || !logFile) throw new Error('__supervise needs NAME LOGFILE');
      await supervise(supName, logFile, { withoutNode: rest.includes('--without-node') });
      return -1; // keeps running
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`dbaas-testing: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
