import { existsSync } from 'node:fs';

/** Where Debian's softhsm2 package puts its PKCS#11 module: the generic link first, then the multiarch file. */
export const SOFT_HSM_MODULE_PATHS: readonly string[] = Object.freeze([
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
]);

/** The softhsm2 module on this machine, or undefined. */
export function locateSoftHsmModule(): string | undefined {
  return SOFT_HSM_MODULE_PATHS.find((path) => existsSync(path));
}

/** Where Debian's softhsm2 package puts its command-line tool. */
export const SOFT_HSM_UTIL_PATHS: readonly string[] = Object.freeze([
  '/usr/bin/softhsm2-util',
  '/usr/local/bin/softhsm2-util',
]);

/** softhsm2-util on this machine, or undefined. */
export function locateSoftHsmUtil(): string | undefined {
  return SOFT_HSM_UTIL_PATHS.find((path) => existsSync(path));
}
