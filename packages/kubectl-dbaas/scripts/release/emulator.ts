import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import type { ReleaseTarget } from './targets.js';

/** Linux user-mode emulators by Go architecture name, with the Debian cross sysroot they need. */
const LINUX_EMULATORS: Record<ReleaseTarget['arch'], { programs: string[]; sysroot: string; packages: string }> = {
  arm64: {
    programs: ['qemu-aarch64', 'qemu-aarch64-static'],
    sysroot: '/usr/aarch64-linux-gnu',
    packages: 'qemu-user libc6-arm64-cross libstdc++6-arm64-cross',
  },
  amd64: { programs: ['qemu-x86_64', 'qemu-x86_64-static'], sysroot: '/usr/x86_64-linux-gnu', packages: 'qemu-user libc6-amd64-cross libstdc++6-amd64-cross' },
};

/**
 * The command prefix that runs a Linux binary of another CPU architecture here with QEMU's
 * user-mode emulation (`['/usr/bin/qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']`), or a reason
 * why there is none (naming the Debian packages that provide it). Darwin binaries cannot be run.
 *
 * @example
 * ```ts
 * const emulator = await findEmulator({ os: 'linux', arch: 'arm64' });
 * if ('command' in emulator) await run(emulator.command[0], [...emulator.command.slice(1), binary, 'version']);
 * ```
 */
export async function findEmulator(
  target: Pick<ReleaseTarget, 'os' | 'arch'>,
  searchPath = process.env['PATH'] ?? '',
): Promise<{ command: string[] } | { reason: string }> {
  if (target.os !== 'linux') return { reason: `${target.os} binaries cannot be run on linux` };
  const emulator = LINUX_EMULATORS[target.arch];
  for (const program of emulator.programs) {
    for (const directory of searchPath.split(path.delimiter).filter((d) => d.length > 0)) {
      const candidate = path.join(directory, program);
      if (!(await isExecutable(candidate))) continue;
      if (!(await isExecutable(path.join(emulator.sysroot, 'lib')))) {
        return { reason: `${candidate} is installed but the ${target.arch} libraries are not (${emulator.sysroot}); apt-get install ${emulator.packages}` };
      }
      return { command: [candidate, '-L', emulator.sysroot] };
    }
  }
  return { reason: `no ${emulator.programs.join(' or ')} on PATH; apt-get install ${emulator.packages}` };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
