// Installs the system packages the platform needs when they are missing: softhsm2 (the
// embedded HSM of @mpay/hsm) and opensc (pkcs11-tool), chromium, Debian's browser that the
// real-browser tests of the web pages drive (test/browser; never a downloaded browser), and
// strace, with which a storage test sees the embedded database's syncs reach the kernel
// (packages/storage/src/data-folder/durable-fs.test.ts). Runs as the root package's postinstall, so a fresh
// machine gets them from the project's own setup. It never fails `npm install`: when it
// cannot install, it says what is missing and the custody service refuses to start with
// HSM_UNAVAILABLE instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const softHsmModules = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
];
const debianPackages = ['softhsm2', 'opensc', 'chromium', 'strace'];

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((folder) => existsSync(join(folder, command)));
}

function missing() {
  const absent = [];
  if (!softHsmModules.some((path) => existsSync(path))) absent.push('libsofthsm2.so');
  for (const command of ['softhsm2-util', 'pkcs11-tool', 'chromium', 'strace'])
    if (!onPath(command)) absent.push(command);
  return absent;
}

/** Runs apt-get (through `sudo -n`, which keeps no environment, when not root); true when it exited 0. */
function aptGet(args) {
  const frontend = 'DEBIAN_FRONTEND=noninteractive';
  const [command, ...prefix] =
    process.getuid?.() === 0 ? ['env', frontend, 'apt-get'] : ['sudo', '-n', 'env', frontend, 'apt-get'];
  const result = spawnSync(command, [...prefix, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return result.status === 0;
}

function install() {
  const args = ['install', '-y', '--no-install-recommends', ...debianPackages];
  if (aptGet(args)) return true;
  // On a fresh machine the package lists are often empty: refresh them once and retry.
  return aptGet(['update']) && aptGet(args);
}

if (missing().length > 0) {
  if (install() && missing().length === 0) {
    console.log(`system-packages: installed ${debianPackages.join(' ')} (HSM, browser tests, sync tests)`);
  } else {
    console.log(
      `system-packages: missing ${missing().join(', ')} ; install them as root with ` +
        `"apt-get install ${debianPackages.join(' ')}", or HSM custody stays unavailable and the ` +
        'browser tests fail',
    );
  }
}
